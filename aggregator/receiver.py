"""The aggregator's ZeroMQ ROUTER: validate, commit in batches, ack after the commit.

Every message from an edge agent's DEALER is decoded by :mod:`gridwatch.protocol`;
anything malformed (or from a node that claims another node's id) is counted by
reason, logged once per (peer, reason) with the peer identity, and dropped: a bad peer
never stops the service. Events for cameras the registry does not know are rejected
for good (the ACK says so, and the agent stops resending them).

Valid events gather into a batch that is committed in one transaction by the store
when it reaches ``commit_batch`` events or is ``commit_max_wait_ms`` old. Only then do
the ACKs go back, so an event is acked only once it is durable. A batch whose commit
fails with a database error is not acked: the agents resend it and the idempotent
insert keeps each event once. A full evidence volume or database is a state, not a
crash (aggregator/storage.py): nothing is acked while it lasts, a commit is retried
every ``aggregator.storage.retry_s``, and the first one that succeeds ends it.

Failover (aggregator/liveness.py): every valid message notes its node as heard; each
heartbeat is answered with a HEARTBEAT_REPLY listing the nodes heard within
``failover.node_timeout_s``, from which the agents compute who runs which camera. Each
peer is answered in the protocol version it speaks (agents of version 1 get no reply).

With CURVE keys configured, only agents whose public key is in ``authorized_keys``
can connect (ZAP via ``ThreadAuthenticator``). Without keys the ROUTER refuses to bind
a non-loopback address unless ``allow_remote_without_keys`` is set.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import zmq
from sqlalchemy.exc import SQLAlchemyError

from aggregator.config import FailoverConfig, ReceiverConfig
from aggregator.liveness import NodeLiveness
from aggregator.metrics import AggregatorMetrics
from aggregator.storage import StorageFull, StorageHealth, is_disk_full
from gridwatch.keys import load_pair
from gridwatch.protocol import (
    MAX_FRAME_BYTES,
    PROTOCOL_VERSION,
    AckPayload,
    EventPayload,
    HeartbeatPayload,
    HeartbeatReplyPayload,
    Message,
    MessageType,
    ProtocolError,
    Rejection,
    decode,
    encode,
)

log = logging.getLogger(__name__)

AGGREGATOR_NODE = "aggregator"
ACK_CHUNK = 10_000  # AckPayload's list limit
POLL_IDLE_MS = 100
PERIODIC_S = 1.0
LOOPBACK_HOSTS = {"localhost", "::1", "[::1]"}
SEEN_LIMIT = 10_000
STORE_LOG_EVERY_S = 10.0
FINAL_ACK_GRACE_S = 0.5  # after the last acks of a graceful stop, before closing


class ReceiverSetupError(RuntimeError):
    """The receiver cannot start as configured (unsafe bind, unreadable keys).

    Recover by fixing ``aggregator.receiver`` in the config: configure CURVE keys, bind a
    loopback address, or set ``allow_remote_without_keys`` knowingly.
    """


class CommitOutcome(Protocol):
    @property
    def committed(self) -> Sequence[str]: ...
    @property
    def rejected(self) -> Sequence[tuple[str, str]]: ...


class EventSink(Protocol):
    """What the receiver needs from the store (``aggregator.store.EventStore``)."""

    def commit_events(self, events: Sequence[Any]) -> CommitOutcome: ...
    def record_heartbeat(
        self, node_id: str, heartbeat: HeartbeatPayload, received_at: float
    ) -> None: ...
    def known_camera(self, camera_id: str) -> bool: ...
    def periodic(self, now: float) -> None: ...


EventFactory = Callable[[EventPayload, str, dict[str, bytes], float], Any]


def default_event_factory() -> EventFactory:
    from aggregator.store import IncomingEvent

    def make(payload: EventPayload, node: str, blobs: dict[str, bytes], at: float) -> Any:
        return IncomingEvent(payload=payload, node_id=node, blobs=blobs, received_at=at)

    return make


def is_loopback(endpoint: str) -> bool:
    """True for ipc://, inproc:// and tcp:// on a loopback host."""
    scheme, _, rest = endpoint.partition("://")
    if scheme in {"ipc", "inproc"}:
        return True
    host = rest.rsplit(":", 1)[0]
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def peer_name(identity: bytes) -> str:
    """A printable name for a ROUTER identity (auto identities start with a zero byte)."""
    if identity[:1] == b"\x00" or not identity.isascii():
        return "0x" + identity.hex()
    return identity.decode("ascii", "backslashreplace")[:64]


@dataclass
class _Batch:
    events: dict[str, Any] = field(default_factory=dict)  # event_id -> incoming event
    peers: dict[bytes, list[str]] = field(default_factory=dict)  # who sent which ids
    rejects: dict[bytes, list[Rejection]] = field(default_factory=dict)
    started: float = 0.0

    def __len__(self) -> int:
        return len(self.events) + sum(len(r) for r in self.rejects.values())


class Receiver:
    """One ROUTER socket and its batch; :meth:`serve` runs in the thread that made it."""

    def __init__(
        self,
        config: ReceiverConfig,
        store: EventSink,
        metrics: AggregatorMetrics,
        *,
        event_factory: EventFactory | None = None,
        failover: FailoverConfig | None = None,
        storage: StorageHealth | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.metrics = metrics
        self.storage = storage or StorageHealth()
        self._make_event = event_factory or default_event_factory()
        failover = failover or FailoverConfig()
        self.liveness: NodeLiveness | None = (
            NodeLiveness(failover.node_timeout_s, started_at=time.time())
            if failover.enabled
            else None
        )
        self._versions: dict[bytes, int] = {}  # peer -> the protocol version it speaks
        self._ctx = zmq.Context()
        self._auth: Any = None
        self._sock: zmq.Socket | None = None
        self._batch = _Batch()
        self._seen: set[tuple[bytes, str]] = set()
        self._next_periodic = 0.0
        self._next_store_log = 0.0
        self.endpoint = ""

    # ---------------------------------------------------------------- setup

    def bind(self) -> str:
        """Bind the ROUTER (with CURVE if configured); return the bound endpoint."""
        cfg = self.config
        sock = self._ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 2000)
        # Frames above the blob limit never reach us: libzmq drops the peer instead.
        sock.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME_BYTES)
        sock.setsockopt(zmq.ROUTER_HANDOVER, 1)  # a restarted agent takes its id back
        sock.setsockopt(zmq.RCVHWM, 100_000)
        if cfg.server_secret_key is not None:
            self._setup_curve(sock)
        elif not is_loopback(cfg.bind) and not cfg.allow_remote_without_keys:
            sock.close(0)
            raise ReceiverSetupError(
                f"refusing to bind {cfg.bind} without CURVE keys: set "
                "aggregator.receiver.server_secret_key and authorized_keys, bind a "
                "loopback address, or set allow_remote_without_keys"
            )
        else:
            log.warning(
                "no CURVE keys: agents are NOT authenticated and traffic is NOT encrypted (%s)",
                "remote peers allowed" if not is_loopback(cfg.bind) else "loopback only",
            )
        sock.bind(cfg.bind)
        self._sock = sock
        self.endpoint = sock.getsockopt_string(zmq.LAST_ENDPOINT)
        log.info("receiver listening on %s", self.endpoint)
        return self.endpoint

    def _setup_curve(self, sock: zmq.Socket) -> None:
        from zmq.auth.thread import ThreadAuthenticator

        cfg = self.config
        if cfg.authorized_keys is None or not cfg.authorized_keys.is_dir():
            raise ReceiverSetupError(
                "server_secret_key is set but authorized_keys is not a folder of agent keys"
            )
        pair = load_pair(cfg.server_secret_key)  # type: ignore[arg-type]
        self._auth = ThreadAuthenticator(self._ctx)
        self._auth.start()
        self._auth.configure_curve(domain="*", location=str(cfg.authorized_keys))
        sock.curve_secretkey = pair.secret
        sock.curve_publickey = pair.public
        sock.curve_server = True
        n = len(list(cfg.authorized_keys.glob("*.key")))
        log.info("CURVE on: %d authorized agent key(s) in %s", n, cfg.authorized_keys)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._auth is not None:
            self._auth.stop()
            self._auth = None
        self._ctx.term()

    # ---------------------------------------------------------------- loop

    def serve(self, stopping: threading.Event) -> None:
        """Receive until ``stopping`` is set, then commit and ack what is in flight."""
        sock = self._sock
        assert sock is not None, "bind() first"
        wait_s = self.config.commit_max_wait_ms / 1000
        while not stopping.is_set():
            now = time.time()
            timeout = POLL_IDLE_MS
            if len(self._batch):
                timeout = max(0, int((self._batch.started + wait_s - now) * 1000))
            if sock.poll(timeout, zmq.POLLIN):
                self._drain(sock)
            now = time.time()
            if len(self._batch) and (
                len(self._batch) >= self.config.commit_batch or now >= self._batch.started + wait_s
            ):
                self.flush()
            if now >= self._next_periodic:
                self._next_periodic = now + PERIODIC_S
                self._report_liveness(now)
                try:
                    self.store.periodic(now)
                except SQLAlchemyError as exc:
                    self._store_error("periodic upkeep", exc)
        if self.flush():  # graceful stop: what was received is committed and acked
            # An agent's DEALER drops replies still unread in its pipe when the
            # connection goes away: give it a moment to read the last acks.
            time.sleep(FINAL_ACK_GRACE_S)

    def _drain(self, sock: zmq.Socket) -> None:
        for _ in range(self.config.commit_batch):
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            try:
                self.handle(frames[0], frames[1:], time.time())
            except SQLAlchemyError as exc:  # not acked: the agent will resend it
                self._store_error(f"message from {peer_name(frames[0])}", exc)
            if len(self._batch) >= self.config.commit_batch:
                return

    # ---------------------------------------------------------------- messages

    def handle(self, identity: bytes, frames: list[bytes], now: float) -> None:
        """Validate one message from ``identity`` and queue, record or drop it."""
        try:
            msg = decode(frames)
        except ProtocolError as exc:
            self._malformed(identity, exc.reason, str(exc))
            return
        if msg.node.encode() != identity:
            self._malformed(identity, "node_mismatch", f"envelope says node {msg.node!r}")
            return
        if msg.type is MessageType.EVENT:
            self._heard(identity, msg, now)
            self._queue_event(identity, msg, now)
        elif msg.type is MessageType.HEARTBEAT:
            beat: HeartbeatPayload = msg.payload
            if beat.node_id != msg.node:
                self._malformed(identity, "node_mismatch", f"heartbeat of {beat.node_id!r}")
                return
            self._heard(identity, msg, now)
            self._reply_to_heartbeat(identity, now)
            self.store.record_heartbeat(msg.node, beat, now)
            self.metrics.heartbeats.inc()
        else:
            self._malformed(identity, "bad_type", f"{msg.type.value} is not sent to the aggregator")

    def _heard(self, identity: bytes, msg: Message, now: float) -> None:
        if len(self._versions) >= SEEN_LIMIT and identity not in self._versions:
            self._versions.clear()  # a flood of identities; real agents are re-learnt
        self._versions[identity] = msg.version
        if self.liveness is not None:
            self.liveness.heard(msg.node, now)

    def _reply_to_heartbeat(self, identity: bytes, now: float) -> None:
        """Tell the agent which nodes are alive (nothing while warming up, or to v1 agents)."""
        if self.liveness is None or self._versions.get(identity, 1) < 2:
            return
        alive = self.liveness.alive(now)
        if alive is None:
            return
        reply = HeartbeatReplyPayload(
            alive_nodes=alive, node_timeout_s=self.liveness.timeout_s, sent_at=now
        )
        frames = encode(MessageType.HEARTBEAT_REPLY, reply, node=AGGREGATOR_NODE)
        try:
            assert self._sock is not None
            self._sock.send_multipart([identity, *frames], zmq.NOBLOCK)
        except zmq.Again:
            log.debug("heartbeat reply to %s not sent (peer gone)", peer_name(identity))

    def _report_liveness(self, now: float) -> None:
        if self.liveness is None:
            return
        self.liveness.report_changes(now)
        alive = self.liveness.alive(now)
        if alive is not None:
            self.metrics.nodes_alive.set(len(alive))

    def _queue_event(self, identity: bytes, msg: Message, now: float) -> None:
        event: EventPayload = msg.payload
        self.metrics.received.inc()
        if not len(self._batch):
            self._batch.started = now
        if not self.store.known_camera(event.camera_id):
            self._once(identity, "unknown_camera", f"camera {event.camera_id!r}")
            rejection = Rejection(event_id=event.event_id, reason="unknown_camera")
            self._batch.rejects.setdefault(identity, []).append(rejection)
            self.metrics.rejected.labels(reason="unknown_camera").inc()
            return
        if event.event_id not in self._batch.events:
            self._batch.events[event.event_id] = self._make_event(event, msg.node, msg.blobs, now)
        self._batch.peers.setdefault(identity, []).append(event.event_id)

    def _store_error(self, what: str, exc: SQLAlchemyError) -> None:
        """A database error outside a commit: counted, logged at most every 10 s."""
        self.metrics.store_errors.inc()
        reason = is_disk_full(exc)
        if reason is not None:  # a full database refuses heartbeats too: one state
            self.storage.full(StorageFull("database", reason, by_commit=False))
            return
        now = time.monotonic()
        if now >= self._next_store_log:
            self._next_store_log = now + STORE_LOG_EVERY_S
            log.error("database error during %s (will retry): %s", what, exc)

    def _malformed(self, identity: bytes, reason: str, detail: str) -> None:
        self.metrics.malformed.labels(reason=reason).inc()
        self._once(identity, reason, detail)

    def _once(self, identity: bytes, reason: str, detail: str) -> None:
        key = (identity, reason)
        if key in self._seen:
            return
        if len(self._seen) >= SEEN_LIMIT:
            self._seen.clear()
        self._seen.add(key)
        log.warning(
            "dropping message from peer %s: %s (%s); further ones from this peer with "
            "this reason are only counted",
            peer_name(identity),
            reason,
            detail[:300],
        )

    # ---------------------------------------------------------------- commit + ack

    def flush(self) -> bool:
        """Commit the open batch in one transaction, then ack it peer by peer.

        Returns whether there was anything to commit or ack.
        """
        batch, self._batch = self._batch, _Batch()
        if not len(batch):
            return False
        committed: set[str] = set()
        refused: dict[str, str] = {}
        if batch.events and not self.storage.may_try():
            # Storage full, not yet time to try again: not committed, not acked; the
            # agents keep these events and resend them.
            self.storage.refused.labels(where="waiting").inc()
            batch.events.clear()
            batch.peers.clear()
        if batch.events:
            started = time.perf_counter()
            try:
                result = self.store.commit_events(list(batch.events.values()))
            except StorageFull as exc:
                self.metrics.commit_failures.inc()
                self.storage.full(exc)
                batch.events.clear()
                batch.peers.clear()
            except SQLAlchemyError as exc:
                self.metrics.commit_failures.inc()
                log.error(
                    "commit of %d events failed, not acked (agents will resend): %s",
                    len(batch.events),
                    exc,
                )
                batch.events.clear()
                batch.peers.clear()
            else:
                self.storage.recovered()
                self.metrics.commit_seconds.observe(time.perf_counter() - started)
                self.metrics.batch_size.observe(len(batch.events))
                committed = set(result.committed)
                refused = dict(result.rejected)
                self.metrics.acked.inc(len(committed))
                for reason in refused.values():
                    self.metrics.rejected.labels(reason=reason).inc()
        for identity in {*batch.peers, *batch.rejects}:
            ids = batch.peers.get(identity, [])
            rejects = list(batch.rejects.get(identity, []))
            rejects += [Rejection(event_id=e, reason=refused[e]) for e in ids if e in refused]
            self._ack(identity, [e for e in dict.fromkeys(ids) if e in committed], rejects)
        return True

    def _ack(self, identity: bytes, event_ids: list[str], rejects: list[Rejection]) -> None:
        sock = self._sock
        assert sock is not None
        for i in range(0, max(len(event_ids), len(rejects)), ACK_CHUNK):
            ack = AckPayload(
                event_ids=event_ids[i : i + ACK_CHUNK], rejected=rejects[i : i + ACK_CHUNK]
            )
            version = self._versions.get(identity, PROTOCOL_VERSION)
            frames = encode(MessageType.ACK, ack, node=AGGREGATOR_NODE, version=version)
            try:
                sock.send_multipart([identity, *frames], zmq.NOBLOCK)
            except zmq.Again:
                log.debug("ack to %s not sent (peer gone): it will resend", peer_name(identity))
                return
