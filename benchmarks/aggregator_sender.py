"""A simulated edge agent for ``gridwatch bench aggregator``: a lean DEALER that speaks
:mod:`gridwatch.protocol`, in its own process::

    python -m benchmarks.aggregator_sender ENDPOINT NODE CAMERAS_FILE SECONDS RATE BURST OUT

It sends ``RATE`` events per second for ``SECONDS`` (``BURST`` events at a time, every
``BURST / RATE`` seconds), each for a random camera of ``CAMERAS_FILE`` with ``t_event``
= its send time, resends what is not acked after ``RESEND_S`` (at-least-once, like the
real publisher, without its outbox), waits for the last acks, and writes ``OUT`` (JSON):
the ids sent, acked and rejected, and the send → ack latency of each acked event (the
aggregator acks only after the commit, so this is send → committed case + the ack trip).
"""

from __future__ import annotations

import json
import random
import socket
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import zmq

from gridwatch.protocol import AckPayload, Box, EventPayload, MessageType, decode, encode

RESEND_S = 5.0
DRAIN_S = 60.0
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
        self.pending: dict[str, tuple[list[bytes], float, float]] = {}  # frames, first, last
        self.sent: list[str] = []
        self.acked: dict[str, float] = {}  # id -> latency s
        self.rejected: dict[str, str] = {}
        self.resends = 0
        self.first_send = 0.0
        self.last_ack = 0.0

    def send_new(self, n: int) -> None:
        now = time.time()
        self.first_send = self.first_send or now
        for _ in range(n):
            ev = make_event(self.rng, self.cameras, now)
            frames = encode(MessageType.EVENT, ev, node=self.node)
            self.sock.send_multipart(frames)
            self.pending[ev.event_id] = (frames, now, now)
            self.sent.append(ev.event_id)

    def read_acks(self, timeout_ms: int) -> None:
        if not self.sock.poll(timeout_ms):
            return
        while True:
            try:
                frames = self.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            msg = decode(frames)
            if msg.type is not MessageType.ACK:
                continue
            self._apply(msg.payload, time.time())

    def _apply(self, ack: AckPayload, now: float) -> None:
        for eid in ack.event_ids:
            item = self.pending.pop(eid, None)
            if item is not None:
                self.acked[eid] = now - item[1]
                self.last_ack = now
        for rej in ack.rejected:
            if self.pending.pop(rej.event_id, None) is not None:
                self.rejected[rej.event_id] = rej.reason

    def resend_due(self) -> None:
        now = time.time()
        for eid, (frames, first, last) in list(self.pending.items()):
            if now - last >= RESEND_S:
                self.sock.send_multipart(frames)
                self.pending[eid] = (frames, first, now)
                self.resends += 1

    def run(self, seconds: float, rate: float, burst: int) -> None:
        period = burst / rate
        start = time.perf_counter()
        ticks = 0
        while time.perf_counter() - start < seconds:
            due = start + ticks * period
            wait = due - time.perf_counter()
            if wait > 0:
                self.read_acks(int(wait * 1000) + 1)
                continue
            self.send_new(burst)
            ticks += 1
            self.read_acks(0)
            if ticks % 50 == 0:
                self.resend_due()
        end = time.perf_counter() + DRAIN_S
        while self.pending and time.perf_counter() < end:
            self.read_acks(100)
            self.resend_due()

    def report(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "sent": self.sent,
            "acked": self.acked,
            "rejected": self.rejected,
            "unacked": list(self.pending),
            "resends": self.resends,
            "first_send": self.first_send,
            "last_ack": self.last_ack,
        }


def main(argv: list[str]) -> int:
    endpoint, node, cams_file, seconds, rate, burst, out = argv
    cameras = Path(cams_file).read_text().split()
    sender = Sender(endpoint, node, cameras, seed=hash(node) & 0xFFFF)
    sender.run(float(seconds), float(rate), int(burst))
    Path(out).write_text(json.dumps(sender.report()))
    sender.sock.close(0)
    sender.ctx.term()
    return 0 if not sender.pending else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
