"""Deliver the outbox to the aggregator over a ZeroMQ DEALER, until every event is acked.

:meth:`Publisher.submit` only writes the event to the durable :class:`Outbox` and
returns, so a slow or absent aggregator never blocks ingest. One background thread owns
the socket (ZeroMQ sockets are not thread-safe) and:

* sends due events (never sent, or unacked after ``resend_after_s``), at most
  ``max_in_flight`` unacked at a time, in outbox order;
* deletes events from the outbox when an ACK names them (committed or rejected);
* sends a heartbeat every ``heartbeat_s`` with per-camera health, and hands the
  aggregator's HEARTBEAT_REPLY (the nodes alive, for failover) to ``on_alive_nodes``;
* warns loudly (log + ``gridwatch_outbox_over_warn`` metric) above
  ``outbox_warn_events``; it never drops an event (the outbox drops evidence, clips
  first, near its byte bound, and the heartbeat's ``outbox`` field says what).

The socket uses ``ZMQ_IMMEDIATE``: while no aggregator is connected a send fails at
once instead of queueing, so the event simply stays due in the outbox.

>>> pub = Publisher("node-1", DeliveryConfig(), Outbox(tmp / "outbox.db"))  # doctest: +SKIP
>>> pub.start(); pub.submit(event, {"snapshot.jpg": jpeg}); pub.stop()  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import zmq
from prometheus_client import Counter, Gauge

from edge_agent.config import DeliveryConfig
from edge_agent.outbox import Outbox, OutboxItem
from gridwatch.keys import load_pair, load_public
from gridwatch.protocol import (
    MAX_BLOB_BYTES,
    MAX_BLOBS,
    MAX_FRAME_BYTES,
    AckPayload,
    CameraStatus,
    EventPayload,
    HeartbeatPayload,
    HeartbeatReplyPayload,
    MessageType,
    ProtocolError,
    decode,
    encode,
)

log = logging.getLogger(__name__)

OUTBOX_EVENTS = Gauge("gridwatch_outbox_events", "Events waiting in the outbox.", ["node"])
OUTBOX_OVER_WARN = Gauge(
    "gridwatch_outbox_over_warn", "1 while the outbox holds more than outbox_warn_events.", ["node"]
)
EVENTS_SENT = Counter("gridwatch_events_sent", "Event sends (incl. resends).", ["node"])
EVENTS_ACKED = Counter("gridwatch_events_acked", "Events acked by the aggregator.", ["node"])
EVENTS_REJECTED = Counter(
    "gridwatch_events_rejected", "Events the aggregator rejected for good.", ["node"]
)

POLL_MS = 20
SEND_CHUNK = 200
BACKLOG_CHECK_S = 2.0
BACKLOG_REPEAT_S = 60.0

CameraStatusSource = Callable[[], list[CameraStatus]]
StatsSource = Callable[[], dict[str, float]]
AliveNodesSink = Callable[[list[str]], None]


class Publisher:
    """Owns the delivery thread of one edge node; see the module docstring."""

    def __init__(
        self,
        node_id: str,
        config: DeliveryConfig,
        outbox: Outbox,
        *,
        camera_status: CameraStatusSource | None = None,
        stats: StatsSource | None = None,
        on_error: Callable[[BaseException, str], None] | None = None,
        on_alive_nodes: AliveNodesSink | None = None,
    ) -> None:
        self.node_id = node_id
        self._on_alive_nodes = on_alive_nodes
        self.config = config
        self.outbox = outbox
        self._camera_status = camera_status or (lambda: [])
        self._stats = stats or (lambda: {})
        self._on_error = on_error
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._dirty = threading.Event()  # something was submitted: scan the outbox now
        self._thread: threading.Thread | None = None
        self._in_flight: dict[str, float] = {}
        self._next_scan = 0.0
        self._next_heartbeat = 0.0
        self._next_backlog_check = 0.0
        self._last_warn = -BACKLOG_REPEAT_S
        self.acked = 0
        self.rejected = 0
        self.alive_nodes: list[str] | None = None  # the aggregator's last failover view

    # ------------------------------------------------------------ ingest side

    def submit(self, event: EventPayload, blobs: dict[str, bytes] | None = None) -> None:
        """Store ``event`` (and its evidence blobs) durably; sending happens later.

        Raises :class:`ProtocolError` at once for an event that could never be sent
        (too many or too large blobs, evidence named but not given).
        """
        blobs = blobs or {}
        if len(blobs) > MAX_BLOBS or any(len(d) > MAX_BLOB_BYTES for d in blobs.values()):
            raise ProtocolError("too_large", f"event {event.event_id}: blobs over the limits")
        if set(event.evidence) - set(blobs):
            raise ProtocolError("blob_mismatch", f"event {event.event_id}: evidence not given")
        self.outbox.put(event.event_id, event.model_dump_json(), blobs)
        self._dirty.set()

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start the delivery thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"publisher-{self.node_id}", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the delivery thread; undelivered events stay in the outbox."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ------------------------------------------------------------ delivery thread

    def _socket(self, ctx: zmq.Context) -> zmq.Socket:
        sock = ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.IDENTITY, self.node_id.encode())
        sock.setsockopt(zmq.IMMEDIATE, 1)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDHWM, max(1000, 2 * self.config.max_in_flight))
        sock.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME_BYTES)
        sock.setsockopt(zmq.RECONNECT_IVL, 100)
        sock.setsockopt(zmq.RECONNECT_IVL_MAX, 2000)
        cfg = self.config
        if cfg.server_public_key is not None or cfg.client_secret_key is not None:
            if cfg.server_public_key is None or cfg.client_secret_key is None:
                raise ValueError("CURVE needs both server_public_key and client_secret_key")
            pair = load_pair(cfg.client_secret_key)
            sock.curve_secretkey = pair.secret
            sock.curve_publickey = pair.public
            sock.curve_serverkey = load_public(cfg.server_public_key)
        sock.connect(cfg.aggregator)
        return sock

    def _run(self) -> None:
        ctx = zmq.Context()
        sock: zmq.Socket | None = None
        try:
            sock = self._socket(ctx)
            log.info("publisher %s sending to %s", self.node_id, self.config.aggregator)
            while not self._stop.is_set():
                self._tick(sock, time.time())
                if sock.poll(POLL_MS, zmq.POLLIN):
                    self._read_acks(sock)
        except Exception as exc:
            self.error = exc
            log.error("publisher %s failed: %s", self.node_id, exc, exc_info=exc)
            if self._on_error is not None:
                self._on_error(exc, f"publisher {self.node_id}")
        finally:
            if sock is not None:
                sock.close(linger=0)
            ctx.term()

    def _tick(self, sock: zmq.Socket, now: float) -> None:
        if now >= self._next_heartbeat:
            self._send_heartbeat(sock, now)
            self._next_heartbeat = now + self.config.heartbeat_s
        if self._dirty.is_set() or now >= self._next_scan:
            self._dirty.clear()
            self._send_due(sock, now)
            self._next_scan = now + min(self.config.resend_after_s / 2, 1.0)
        if now >= self._next_backlog_check:
            self._check_backlog(now)
            self._next_backlog_check = now + BACKLOG_CHECK_S

    def _send_due(self, sock: zmq.Socket, now: float) -> None:
        resend = self.config.resend_after_s
        self._in_flight = {k: t for k, t in self._in_flight.items() if t >= now - resend}
        room = self.config.max_in_flight - len(self._in_flight)
        # Small chunks: while the aggregator is away the first send fails, and reading
        # a thousand rows with their blobs every scan for nothing would be wasteful.
        while room > 0:
            asked = min(room, SEND_CHUNK)
            items = self.outbox.due(now=now, resend_after_s=resend, limit=asked)
            sent: list[str] = []
            for item in items:
                if not self._send_event(sock, item):
                    break
                sent.append(item.event_id)
                self._in_flight[item.event_id] = now
            self.outbox.mark_sent(sent, now)
            EVENTS_SENT.labels(self.node_id).inc(len(sent))
            room -= len(sent)
            if len(sent) < asked:
                return  # nothing more due, or the socket would not take more

    def _send_event(self, sock: zmq.Socket, item: OutboxItem) -> bool:
        payload = EventPayload.model_validate_json(item.payload)
        frames = encode(MessageType.EVENT, payload, node=self.node_id, blobs=item.blobs)
        try:
            sock.send_multipart(frames, flags=zmq.NOBLOCK, copy=False)
        except zmq.Again:
            return False  # not connected (IMMEDIATE) or the pipe is full: try later
        return True

    def _send_heartbeat(self, sock: zmq.Socket, now: float) -> None:
        usage = self.outbox.usage()  # fill, bound and evidence dropped (bounded outbox)
        stats = {"outbox_events": float(usage.events), **self._stats()}
        beat = HeartbeatPayload(
            node_id=self.node_id,
            sent_at=now,
            cameras=self._camera_status(),
            stats=stats,
            outbox=usage.to_status(),
        )
        try:
            sock.send_multipart(encode(MessageType.HEARTBEAT, beat, node=self.node_id), zmq.NOBLOCK)
        except zmq.Again:
            log.debug("heartbeat not sent: aggregator not connected")

    def _read_acks(self, sock: zmq.Socket) -> None:
        while True:
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            try:
                msg = decode(frames)
            except ProtocolError as exc:
                log.warning("publisher %s: bad reply from aggregator: %s", self.node_id, exc)
                continue
            if isinstance(msg.payload, AckPayload):
                self._apply_ack(msg.payload)
            elif isinstance(msg.payload, HeartbeatReplyPayload):
                self.alive_nodes = list(msg.payload.alive_nodes)
                if self._on_alive_nodes is not None:
                    self._on_alive_nodes(self.alive_nodes)

    def _apply_ack(self, ack: AckPayload) -> None:
        ids = [*ack.event_ids, *(r.event_id for r in ack.rejected)]
        self.outbox.remove(ids)
        for eid in ids:
            self._in_flight.pop(eid, None)
        self.acked += len(ack.event_ids)
        self.rejected += len(ack.rejected)
        EVENTS_ACKED.labels(self.node_id).inc(len(ack.event_ids))
        if ack.rejected:
            EVENTS_REJECTED.labels(self.node_id).inc(len(ack.rejected))
            first = ack.rejected[0]
            log.warning(
                "aggregator rejected %d event(s) for good, e.g. %s: %s",
                len(ack.rejected),
                first.event_id,
                first.reason,
            )
        self._dirty.set()

    def _check_backlog(self, now: float) -> None:
        backlog = self.outbox.count()
        OUTBOX_EVENTS.labels(self.node_id).set(backlog)
        over = backlog > self.config.outbox_warn_events
        OUTBOX_OVER_WARN.labels(self.node_id).set(1 if over else 0)
        if over and now - self._last_warn >= BACKLOG_REPEAT_S:
            self._last_warn = now
            log.warning(
                "OUTBOX BACKLOG: %d events waiting on node %s (warn above %d); is the "
                "aggregator at %s reachable? Nothing is dropped.",
                backlog,
                self.node_id,
                self.config.outbox_warn_events,
                self.config.aggregator,
            )
