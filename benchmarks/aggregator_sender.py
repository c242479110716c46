"""A simulated edge agent for ``gridwatch bench aggregator``: a lean DEALER that speaks
:mod:`gridwatch.protocol`, in its own process::

    python -m benchmarks.aggregator_sender ENDPOINT NODE CAMERAS_FILE SECONDS RATE BURST OUT [COUNT]

It behaves like the edge publisher (edge_agent/publisher.py) without its durable outbox:
``RATE`` events per second for ``SECONDS`` (``BURST`` events at a time, every ``BURST /
RATE`` seconds) go into an in-memory outbox, each for a random camera of
``CAMERAS_FILE``; at most ``MAX_IN_FLIGHT`` events are sent and not yet acked at a time,
and an event unacked after ``RESEND_S`` is sent again (at-least-once). With ``COUNT`` it
sends exactly that many events (``gridwatch bench aggregator --connect --events N``). Without that
window, an aggregator slower than the offered load got every queued event again every
5 s: a resend storm that multiplied its load (6x on PostgreSQL) and starved it further.

The events are built and encoded before the clock starts (``t_event`` = the time the
event is due, counted from then), so the sender's own CPU during the run is sending and
reading acks, not pydantic and JSON: on a small machine the senders share the cores with
the aggregator they measure. It stops when everything is acked or after ``DRAIN_S``
without any ack, and writes ``OUT`` (JSON): the ids sent, acked and rejected, the due →
ack latency of each acked event (the aggregator acks only after the commit, so this is
outbox wait + send → committed case + the ack trip), and its CPU seconds.
"""

from __future__ import annotations

import json
import random
import socket
import sys
import time
import uuid
from collections import deque
from pathlib import Path
from typing import Any

import zmq

from gridwatch.protocol import (
    AckPayload,
    Box,
    EventPayload,
    MessageType,
    ProtocolError,
    decode,
    encode,
)

RESEND_S = 5.0
DRAIN_S = 60.0  # give up after this long without any ack
MAX_IN_FLIGHT = 1000  # the edge publisher's default (edge_agent/config.py)
CODES = ("01-03", "05-05", "05-01")


def free_endpoint() -> str:
    """A loopback TCP endpoint on a port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def make_event(rng: random.Random, cameras: list[str], now: float) -> EventPayload:
    x, y = rng.random() * 0.8, rng.random() * 0.8
    return EventPayload(
        event_id=uuid.uuid4().hex,
        incident_id=uuid.uuid4().hex,
        camera_id=rng.choice(cameras),
        rule_id="bench",
        event_code=rng.choice(CODES),
        t_start=now - 10,
        t_event=now,
        confidence=0.8,
        boxes=[Box(cls="car", conf=0.8, xyxy=(x, y, x + 0.1, y + 0.1))],
        model="bench",
    )


class Sender:
    def __init__(self, endpoint: str, node: str, cameras: list[str], seed: int) -> None:
        self.node = node
        self.cameras = cameras
        self.rng = random.Random(seed)
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.IDENTITY, node.encode())
        self.sock.setsockopt(zmq.SNDHWM, 0)
        self.sock.setsockopt(zmq.RCVHWM, 0)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(endpoint)
        self.frames: dict[str, list[bytes]] = {}  # every event, encoded before the run
        self.outbox: deque[str] = deque()  # due, not sent yet
        self.in_flight: dict[str, float] = {}  # id -> last send (oldest first)
        self.due_at: dict[str, float] = {}  # id -> when it went into the outbox
        self.sent: list[str] = []
        self.acked: dict[str, float] = {}  # id -> latency s
        self.rejected: dict[str, str] = {}
        self.resends = 0
        self.first_send = 0.0
        self.last_ack = 0.0
        self.prepare_s = 0.0
        self.cpu_s = 0.0

    def prepare(
        self, seconds: float, rate: float, burst: int, count: int | None = None
    ) -> list[list[str]]:
        """Build and encode every event; the ids of each burst, in order.

        ``count``: exactly that many events (the last burst may be smaller), else as
        many bursts as ``seconds`` holds.
        """
        started = time.perf_counter()
        period = burst / rate
        ticks = 0
        if count is not None:
            ticks = -(-count // burst)
        while count is None and ticks * period < seconds:
            ticks += 1
        t0 = time.time()
        bursts = []
        left = count if count is not None else ticks * burst
        for tick in range(ticks):
            ids = []
            for _ in range(min(burst, left)):
                left -= 1
                ev = make_event(self.rng, self.cameras, t0 + tick * period)
                self.frames[ev.event_id] = encode(MessageType.EVENT, ev, node=self.node)
                ids.append(ev.event_id)
            bursts.append(ids)
        self.prepare_s = time.perf_counter() - started
        return bursts

    def send_due(self) -> None:
        """Resend what waited ``RESEND_S`` for its ack, then new events while there is room."""
        now = time.time()
        for eid, last in list(self.in_flight.items()):
            if now - last < RESEND_S:
                break  # oldest first: the rest are younger
            del self.in_flight[eid]
            self.sock.send_multipart(self.frames[eid])
            self.in_flight[eid] = now
            self.resends += 1
        while self.outbox and len(self.in_flight) < MAX_IN_FLIGHT:
            eid = self.outbox.popleft()
            self.sock.send_multipart(self.frames[eid])
            self.in_flight[eid] = now

    def read_acks(self, timeout_ms: int) -> None:
        if not self.sock.poll(timeout_ms):
            return
        while True:
            try:
                frames = self.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            try:
                msg = decode(frames)
            except ProtocolError:
                continue  # counted by nobody: a bench sender only cares about acks
            if msg.type is not MessageType.ACK:
                continue
            self._apply(msg.payload, time.time())

    def _apply(self, ack: AckPayload, now: float) -> None:
        for eid in ack.event_ids:
            if self.in_flight.pop(eid, None) is not None:
                self.acked[eid] = now - self.due_at[eid]
                self.last_ack = now
        for rej in ack.rejected:
            if self.in_flight.pop(rej.event_id, None) is not None:
                self.rejected[rej.event_id] = rej.reason

    def run(self, seconds: float, rate: float, burst: int, count: int | None = None) -> None:
        bursts = self.prepare(seconds, rate, burst, count)
        cpu = time.process_time()
        period = burst / rate
        start = time.perf_counter()
        self.first_send = time.time()
        for tick, ids in enumerate(bursts):
            wait = start + tick * period - time.perf_counter()
            while wait > 0:
                self.read_acks(int(wait * 1000) + 1)
                self.send_due()
                wait = start + tick * period - time.perf_counter()
            now = time.time()
            for eid in ids:
                self.due_at[eid] = now
            self.outbox.extend(ids)
            self.sent.extend(ids)
            self.send_due()
            self.read_acks(0)
        acked, last_progress = len(self.acked) + len(self.rejected), time.perf_counter()
        while self.outbox or self.in_flight:
            self.read_acks(100)
            self.send_due()
            if len(self.acked) + len(self.rejected) > acked:
                acked, last_progress = len(self.acked) + len(self.rejected), time.perf_counter()
            elif time.perf_counter() - last_progress > DRAIN_S:
                break
        self.cpu_s = time.process_time() - cpu

    def report(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "sent": self.sent,
            "acked": self.acked,
            "rejected": self.rejected,
            "unacked": [*self.in_flight, *self.outbox],
            "resends": self.resends,
            "first_send": self.first_send,
            "last_ack": self.last_ack,
            "prepare_s": self.prepare_s,
            "cpu_s": self.cpu_s,
        }


def main(argv: list[str]) -> int:
    endpoint, node, cams_file, seconds, rate, burst, out, *rest = argv
    cameras = Path(cams_file).read_text().split()
    sender = Sender(endpoint, node, cameras, seed=hash(node) & 0xFFFF)
    sender.run(float(seconds), float(rate), int(burst), int(rest[0]) if rest else None)
    Path(out).write_text(json.dumps(sender.report()))
    sender.sock.close(0)
    sender.ctx.term()
    return 0 if not (sender.in_flight or sender.outbox) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
