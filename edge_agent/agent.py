"""The edge agent process: this node's cameras, from stream to delivered event.

    registry DB ─(rendezvous hashing: which cameras are mine?)─► IngestPool (PyAV readers)
      ► poll latest frames ► motion gate ► batched YOLO ► CameraAnalyzer (tracks, rules)
      ► events with evidence ► Publisher.submit (durable outbox) ► ZeroMQ to the aggregator

One :class:`EdgeAgent` per GPU node. It re-reads the registry every
``ingest.registry_poll_s`` so that cameras added, changed or disabled are picked up
without a restart, and its heartbeats carry every camera's health. A failing part is
recorded once (the first error) and the process exits non-zero.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from edge_agent.budget import HeapTrim
from edge_agent.rules.config import RuleSpec
from gridwatch.config import Settings
from gridwatch.process import Service
from gridwatch.protocol import CameraState, CameraStatus
from gridwatch.registry.zones import parse_zones
from gridwatch.secrets import mask_url

FRAMES = Counter("gridwatch_edge_frames", "Sampled frames analysed.", ["node"])
DETECTED = Counter("gridwatch_edge_frames_detected", "Frames sent to the detector.", ["node"])
SKIPPED = Counter("gridwatch_edge_frames_still", "Frames the motion gate skipped.", ["node"])
EVENTS = Counter("gridwatch_edge_events", "Events produced (start and end).", ["node", "code"])
BATCH = Histogram(
    "gridwatch_edge_detect_batch_seconds",
    "Detector time per batch.",
    ["node"],
    buckets=(0.01, 0.03, 0.1, 0.3, 1, 3, 10),
)
CAMERAS = Gauge("gridwatch_edge_cameras", "This node's cameras by state.", ["node", "state"])
LOOKS = Counter(
    "gridwatch_edge_second_looks", "Crops of new static objects the detector looked at.", ["node"]
)
LOOK_SECONDS = Counter(
    "gridwatch_edge_second_look_seconds", "Detector time spent on second looks.", ["node"]
)


def default_node_id() -> str:
    """``$GRIDWATCH_NODE_ID``, else the host name (a StatefulSet pod's stable name)."""
    return os.environ.get("GRIDWATCH_NODE_ID") or socket.gethostname()


@dataclass(frozen=True)
class AssignedCamera:
    """A camera this node runs, as read from the registry."""

    camera_id: str
    url: str
    analysis_interval_s: float
    zones_json: str


def my_cameras(db_url: str, settings: Settings, node_id: str) -> list[AssignedCamera]:
    """The enabled cameras that rendezvous hashing gives to ``node_id``."""
    from sqlalchemy import select

    from gridwatch.db import CameraRow, open_db, session_scope
    from gridwatch.sharding import assign

    nodes = settings.sharding.nodes
    if node_id not in {n.id for n in nodes}:
        listed = ", ".join(n.id for n in nodes) or "(none)"
        raise ValueError(f"node {node_id!r} is not in the node list: {listed}")
    with session_scope(open_db(db_url)) as session:
        rows = session.execute(
            select(
                CameraRow.camera_id,
                CameraRow.sub_url,
                CameraRow.analysis_interval_s,
                CameraRow.zones,
            )
            .where(CameraRow.enabled.is_(True))
            .order_by(CameraRow.camera_id)
        ).all()
    node_of = assign([r.camera_id for r in rows], nodes).as_dict()
    return [
        AssignedCamera(
            r.camera_id, r.sub_url, r.analysis_interval_s, json.dumps(r.zones, sort_keys=True)
        )
        for r in rows
        if node_of[r.camera_id] == node_id
    ]


class EdgeAgent(Service):
    """One GPU node's agent; see the module docstring."""

    def __init__(
        self, settings: Settings, *, node_id: str, db_url: str, weights_dir: Path | None = None
    ) -> None:
        super().__init__("gridwatch.edge")
        self.settings = settings
        self.config = settings.edge
        self.node_id = node_id
        self.db_url = db_url
        self.weights_dir = weights_dir
        self.analyzers: dict[str, Any] = {}  # camera id -> CameraAnalyzer
        self._zones: dict[str, str] = {}  # camera id -> zones JSON the analyzer was built with
        self.pool: Any = None  # IngestPool once serving
        self.rules: list[RuleSpec] = []  # loaded by serve()
        self.model_name = ""
        self.events_total = 0
        self._heap_trim = HeapTrim()

    # ------------------------------------------------------------------ parts

    def _statuses(self) -> list[CameraStatus]:
        if self.pool is None:
            return []
        health = self.pool.health()
        for state in CameraState:  # every state, so that one that empties reads 0
            n = sum(1 for h in health.values() if h.state is state)
            CAMERAS.labels(self.node_id, state.value).set(n)
        return [h.to_status() for h in health.values()]

    def _stats(self) -> dict[str, float]:
        return {"cameras": float(len(self.analyzers)), "events": float(self.events_total)}

    def refresh(self) -> None:
        """Re-read the registry: start, change or stop readers and analyzers."""
        from edge_agent.analyzer import CameraAnalyzer
        from edge_agent.ingest import CameraSource

        cameras = my_cameras(self.db_url, self.settings, self.node_id)
        wanted = {c.camera_id: c for c in cameras}
        for camera_id in set(self.analyzers) - set(wanted):
            del self.analyzers[camera_id]
            self._zones.pop(camera_id, None)
        for cam in cameras:
            if self._zones.get(cam.camera_id) != cam.zones_json:
                self.analyzers[cam.camera_id] = CameraAnalyzer(
                    cam.camera_id,
                    parse_zones(cam.zones_json if cam.zones_json != "[]" else ""),
                    self.rules,
                    model=self.model_name,
                    motion=self.config.motion,
                    evidence=self.config.evidence,
                    static=self.config.static,
                )
                self._zones[cam.camera_id] = cam.zones_json
        self.pool.set_cameras(
            [CameraSource(c.camera_id, c.url, c.analysis_interval_s) for c in cameras]
        )
        self.log.info("node %s runs %d camera(s)", self.node_id, len(cameras))

    def analyse(self, frames: Sequence[Any], detector: Any, publisher: Any) -> int:
        """Motion gate, one batched detector call, rules; returns the number of events."""
        self._heap_trim.maybe()  # freed frames back to the system (edge_agent/budget.py)
        todo = []
        produced = []
        look = self._second_look(detector)
        for frame in frames:
            analyzer = self.analyzers.get(frame.camera_id)
            if analyzer is None:
                continue  # dropped from this node since the frame was read
            FRAMES.labels(self.node_id).inc()
            if analyzer.should_detect(frame.t_wall, frame.image):
                todo.append((analyzer, frame))
            else:
                SKIPPED.labels(self.node_id).inc()
                produced += analyzer.process(frame.t_wall, frame.image, None, look)
        if todo:
            started = time.perf_counter()
            detections = detector.detect([f.image for _, f in todo])
            BATCH.labels(self.node_id).observe(time.perf_counter() - started)
            DETECTED.labels(self.node_id).inc(len(todo))
            for (analyzer, frame), dets in zip(todo, detections, strict=True):
                produced += analyzer.process(frame.t_wall, frame.image, dets, look)
        for event in produced:
            publisher.submit(event.to_payload(), event.blobs())
            EVENTS.labels(self.node_id, event.event_code).inc()
            self.log.info(
                "event %s %s on %s (%s)",
                event.event_code,
                event.phase,
                event.camera_id,
                event.rule_id,
            )
        self.events_total += len(produced)
        return len(produced)

    def _second_look(self, detector: Any) -> Any:
        """The detector on crops of new static objects, counted in the metrics (its cost
        is paid per new object, not per frame)."""
        inner = detector.second_look(self.config.static.second_look_imgsz)

        def look(crops: Sequence[Any]) -> Any:
            started = time.perf_counter()
            try:
                return inner(crops)
            finally:
                LOOKS.labels(self.node_id).inc(len(crops))
                LOOK_SECONDS.labels(self.node_id).inc(time.perf_counter() - started)

        return look

    # ------------------------------------------------------------------ the loop

    def serve(self) -> None:
        from prometheus_client import start_http_server

        from edge_agent.budget import tune_allocator
        from edge_agent.catalogue import load_catalogue
        from edge_agent.detector import Detector
        from edge_agent.ingest import IngestPool
        from edge_agent.outbox import Outbox
        from edge_agent.publisher import Publisher
        from edge_agent.rules.config import load_rules

        cfg = self.config
        tune_allocator()  # per-camera memory: edge_agent/budget.py
        entry = load_catalogue(cfg.models_catalogue).get(cfg.detector.model)
        self.model_name = entry.name
        self.rules = load_rules(cfg.rules_file).active()
        detector = Detector(
            entry,
            cfg.detector,
            weights_dir=self.weights_dir,
            engines_dir=self.settings.data_dir() / "engines",
        )
        outbox = Outbox.for_node(cfg.delivery, self.settings.data_dir(), self.node_id)
        publisher = Publisher(
            self.node_id,
            cfg.delivery,
            outbox,
            camera_status=self._statuses,
            stats=self._stats,
            on_error=self.record_error,
        )
        if cfg.metrics_port:
            start_http_server(cfg.metrics_port)
        self.log.info(
            "edge agent %s: model %s on %s, aggregator %s, %d outbox event(s) waiting",
            self.node_id,
            entry.name,
            detector.device,
            mask_url(cfg.delivery.aggregator),
            outbox.count(),
        )
        self.pool = IngestPool(cfg.ingest)
        self.pool.start()
        publisher.start()
        try:
            next_refresh = 0.0
            while not self.stopping.is_set():
                if time.monotonic() >= next_refresh:
                    self.refresh()
                    next_refresh = time.monotonic() + cfg.ingest.registry_poll_s
                self.analyse(self.pool.poll(0.2), detector, publisher)
        finally:
            self.pool.close()
            publisher.stop()
            outbox.close()
