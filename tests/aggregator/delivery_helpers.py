"""Shared pieces of the delivery tests: ports, events, a fake store, a service thread."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aggregator.config import AggregatorConfig, FailoverConfig, ReceiverConfig
from aggregator.metrics import AggregatorMetrics
from aggregator.service import AggregatorService
from edge_agent.config import DeliveryConfig
from edge_agent.outbox import Outbox
from edge_agent.publisher import Publisher
from gridwatch.protocol import EventPayload, HeartbeatPayload

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def loopback() -> str:
    return f"tcp://127.0.0.1:{free_port()}"


def wait_for(cond: Callable[[], bool], timeout: float = 10.0, step: float = 0.02) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(step)
    return cond()


def make_event(camera_id: str, **overrides: Any) -> EventPayload:
    fields: dict[str, Any] = {
        "event_id": uuid.uuid4().hex,
        "incident_id": uuid.uuid4().hex,
        "camera_id": camera_id,
        "rule_id": "dumping",
        "event_code": "0101-01",
        "t_start": time.time() - 30,
        "t_event": time.time(),
        "confidence": 0.9,
        "model": "yolo26n",
    }
    fields.update(overrides)
    return EventPayload.model_validate(fields)


def delivery(endpoint: str, **overrides: Any) -> DeliveryConfig:
    base: dict[str, Any] = {
        "aggregator": endpoint,
        "resend_after_s": 1.0,
        "heartbeat_s": 0.2,
    }
    base.update(overrides)
    return DeliveryConfig(**base)


def publisher(tmp: Path, node: str, endpoint: str, **overrides: Any) -> Publisher:
    pub = Publisher(node, delivery(endpoint, **overrides), Outbox(tmp / f"outbox-{node}.db"))
    pub.start()
    return pub


# ------------------------------------------------------------------ fake store (unit tests)


@dataclass(frozen=True)
class FakeIncoming:
    payload: EventPayload
    node_id: str
    blobs: dict[str, bytes]
    received_at: float


@dataclass(frozen=True)
class FakeResult:
    committed: list[str]
    rejected: list[tuple[str, str]]


def fake_incoming(payload: EventPayload, node: str, blobs: dict[str, bytes], at: float) -> Any:
    return FakeIncoming(payload, node, blobs, at)


@dataclass
class FakeStore:
    """Stands in for aggregator.store.EventStore in receiver unit tests only."""

    cameras: set[str]
    stored: dict[str, FakeIncoming] = field(default_factory=dict)
    heartbeats: list[HeartbeatPayload] = field(default_factory=list)
    commits: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def commit_events(self, events: Sequence[Any]) -> FakeResult:
        with self.lock:
            self.commits.append(len(events))
            for ev in events:
                self.stored.setdefault(ev.payload.event_id, ev)
        return FakeResult([e.payload.event_id for e in events], [])

    def record_heartbeat(self, node_id: str, heartbeat: HeartbeatPayload, at: float) -> None:
        self.heartbeats.append(heartbeat)

    def known_camera(self, camera_id: str) -> bool:
        return camera_id in self.cameras

    def periodic(self, now: float) -> None:
        pass


class ServiceThread:
    """An AggregatorService on a fake store, served by a thread of the test process."""

    def __init__(
        self,
        store: FakeStore,
        tmp: Path,
        failover: FailoverConfig | None = None,
        **receiver: Any,
    ) -> None:
        receiver.setdefault("bind", loopback())
        receiver.setdefault("commit_max_wait_ms", 5)
        self.config = AggregatorConfig(
            metrics_port=0,
            receiver=ReceiverConfig(**receiver),
            failover=failover or FailoverConfig(),
        )
        self.metrics = AggregatorMetrics()
        self.service = AggregatorService(
            self.config,
            db_url="sqlite://",
            evidence_dir=tmp / "evidence",
            store=store,
            event_factory=fake_incoming,
            metrics=self.metrics,
        )
        self.exit_code: int | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    @property
    def endpoint(self) -> str:
        return self.config.receiver.bind

    def _run(self) -> None:
        self.exit_code = self.service.run(install_signals=False)

    def __enter__(self) -> ServiceThread:
        self.thread.start()
        return self

    def stop(self) -> int | None:
        self.service.request_stop("test over")
        self.thread.join(10)
        return self.exit_code

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ------------------------------------------------------------------ real database


def import_cameras(db_url: str, tmp: Path, n: int = 40) -> list[str]:
    """Register ``n`` generated cameras in ``db_url`` with the registry importer."""
    from gridwatch.grid.model import GridIndex
    from gridwatch.registry.csvfile import write_registry
    from gridwatch.registry.generate import generate_cameras
    from gridwatch.registry.importer import import_registry

    grid_file = REPO / "configs/grid/songjiang.geojson"
    # n >= 40: generate_cameras fails for a street that gets 0 cameras (small n)
    cameras = generate_cameras(GridIndex.load(grid_file), n, seed=1)
    path = tmp / "cameras.csv"
    write_registry(cameras, path)
    import_registry(path, db_url, default_grid=grid_file, echo=lambda _line: None)
    return [c.camera_id for c in cameras]


def stored_event_ids(db_url: str) -> list[str]:
    """Every stored event id, duplicates included (the table's rows, not a set)."""
    from sqlalchemy import select

    from aggregator.models import EventRow
    from gridwatch.db import make_engine

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(select(EventRow.__table__.c.event_id)).scalars())
    finally:
        engine.dispose()


class RealServiceThread(ServiceThread):
    """An AggregatorService on the real EventStore and database, in a thread."""

    def __init__(self, db_url: str, tmp: Path, **receiver: Any) -> None:
        receiver.setdefault("bind", loopback())
        receiver.setdefault("commit_max_wait_ms", 5)
        self.config = AggregatorConfig(metrics_port=0, receiver=ReceiverConfig(**receiver))
        self.metrics = AggregatorMetrics()
        self.service = AggregatorService(
            self.config, db_url=db_url, evidence_dir=tmp / "evidence", metrics=self.metrics
        )
        self.exit_code = None
        self.thread = threading.Thread(target=self._run, daemon=True)


# ------------------------------------------------------------------ agent process


def agent_main(argv: list[str]) -> int:
    """``python -m tests.aggregator.delivery_helpers ENDPOINT OUTBOX CAMS IDS N RATE``.

    Submits N events (one per camera in turn) at RATE per second, appending each id to
    IDS once it is in the outbox, then waits until the outbox is empty (exit 0) or 120 s
    have passed (exit 1).
    """
    endpoint, outbox, cams_file, ids_file, count, rate = argv
    cams = Path(cams_file).read_text().split()
    pub = Publisher("agent-proc", delivery(endpoint, resend_after_s=1.0), Outbox(Path(outbox)))
    pub.start()
    with open(ids_file, "a") as out:
        for i in range(int(count)):
            ev = make_event(cams[i % len(cams)], evidence=["snapshot.jpg"])
            pub.submit(ev, {"snapshot.jpg": b"\xff\xd8" + bytes(200)})
            out.write(ev.event_id + "\n")
            out.flush()
            time.sleep(1 / float(rate))
    done = wait_for(lambda: pub.outbox.count() == 0, timeout=120, step=0.1)
    pub.stop()
    from edge_agent.publisher import EVENTS_SENT

    print(f"agent: {count} events, {EVENTS_SENT.labels('agent-proc')._value.get():.0f} sends")
    return 0 if done else 1


if __name__ == "__main__":
    import sys

    raise SystemExit(agent_main(sys.argv[1:]))
