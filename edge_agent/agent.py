"""The edge agent process: this node's cameras, from stream to delivered event.

    registry DB ─(rendezvous hashing: which cameras are mine?)─► IngestPool (PyAV readers)
      ► poll latest frames ► motion gate ► batched YOLO ► CameraAnalyzer (tracks, rules)
      ► events with evidence ► Publisher.submit (durable outbox) ► ZeroMQ to the aggregator

One :class:`EdgeAgent` per GPU node. It re-reads the registry every
``ingest.registry_poll_s`` so that cameras added, changed or disabled are picked up
without a restart, and with it the model the configuration names (a new catalogue
entry, e.g. one fine-tuned by ``gridwatch model train``, is loaded and swapped in:
edge_agent/model_watch.py); its heartbeats carry every camera's health. A failing part is
recorded once (the first error) and the process exits non-zero.

Failover: the aggregator answers each heartbeat with the nodes it hears
(aggregator/liveness.py). The agent hashes over the configured nodes in that list plus
itself (:func:`gridwatch.sharding.serving_nodes`) and re-reads its cameras as soon as the
list changes, so it covers a dead node's share of cameras within the failover timeout
plus one heartbeat, and gives them back when that node is heard again. While the
aggregator is away the agent keeps the last list it got (at start: every node).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections import Counter as Tally
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
COVERING = Gauge(
    "gridwatch_edge_cameras_covering",
    "Cameras this node runs for a node the aggregator does not hear (failover).",
    ["node"],
)
SERVING_NODES = Gauge(
    "gridwatch_edge_serving_nodes", "Nodes sharing the cameras in this node's view.", ["node"]
)
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
    home_node: str = ""  # the node that runs it when every node is alive ("" = this one)


def my_cameras(
    db_url: str, settings: Settings, node_id: str, alive: frozenset[str] | None = None
) -> list[AssignedCamera]:
    """The enabled cameras that rendezvous hashing gives to ``node_id``.

    ``alive`` is the aggregator's failover view: the hashing runs over the configured
    nodes in it (and ``node_id``); None means every configured node serves.
    """
    from sqlalchemy import select

    from gridwatch.db import CameraRow, open_db, session_scope
    from gridwatch.sharding import assign, serving_nodes

    nodes = settings.sharding.nodes
    if node_id not in {n.id for n in nodes}:
        listed = ", ".join(n.id for n in nodes) or "(none)"
        raise ValueError(f"node {node_id!r} is not in the node list: {listed}")
    serving = serving_nodes(nodes, alive, node_id)
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
    ids = [r.camera_id for r in rows]
    node_of = assign(ids, serving).as_dict()
    home_of = assign(ids, nodes).as_dict() if len(serving) < len(nodes) else node_of
    return [
        AssignedCamera(
            r.camera_id,
            r.sub_url,
            r.analysis_interval_s,
            json.dumps(r.zones, sort_keys=True),
            "" if home_of[r.camera_id] == node_id else home_of[r.camera_id],
        )
        for r in rows
        if node_of[r.camera_id] == node_id
    ]


class EdgeAgent(Service):
    """One GPU node's agent; see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        *,
        node_id: str,
        db_url: str,
        weights_dir: Path | None = None,
        config_file: Path | None = None,
    ) -> None:
        super().__init__("gridwatch.edge")
        self.config_file = config_file  # re-read for the model to run (model_watch.py)
        self.settings = settings
        self.config = settings.edge
        self.node_id = node_id
        self.db_url = db_url
        self.weights_dir = weights_dir
        self.analyzers: dict[str, Any] = {}  # camera id -> CameraAnalyzer
        self._zones: dict[str, str] = {}  # camera id -> zones JSON the analyzer was built with
        self.pool: Any = None  # IngestPool once serving
        self.rules: list[RuleSpec] = []  # loaded by serve(): those the model can run
        self.all_rules: list[RuleSpec] = []
        self.model_name = ""
        self.events_total = 0
        self._view_lock = threading.Lock()
        self._alive: frozenset[str] | None = None  # the aggregator's view; None: all serve
        self.view_changed = threading.Event()
        self.covering: dict[str, int] = {}  # absent node -> cameras this node runs for it
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
        return {
            "cameras": float(len(self.analyzers)),
            "events": float(self.events_total),
            "covering": float(sum(self.covering.values())),
        }

    def set_alive_nodes(self, alive: Sequence[str]) -> None:
        """The aggregator's failover view arrived (publisher thread): re-shard if it changed.

        Only configured nodes count, so an unknown node in the list changes nothing.
        """
        configured = {n.id for n in self.settings.sharding.nodes}
        view = frozenset(alive) & configured
        with self._view_lock:
            if view == self._alive:
                return
            self._alive = view
        self.view_changed.set()

    @property
    def alive_nodes(self) -> frozenset[str] | None:
        with self._view_lock:
            return self._alive

    def refresh(self) -> None:
        """Re-read the registry: start, change or stop readers and analyzers."""
        from edge_agent.analyzer import CameraAnalyzer
        from edge_agent.ingest import CameraSource

        self.view_changed.clear()
        alive = self.alive_nodes
        cameras = my_cameras(self.db_url, self.settings, self.node_id, alive)
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
        self._report_cover(cameras, alive)

    def _report_cover(
        self, cameras: Sequence[AssignedCamera], alive: frozenset[str] | None
    ) -> None:
        covering = dict(sorted(Tally(c.home_node for c in cameras if c.home_node).items()))
        nodes = self.settings.sharding.nodes
        serving = len(nodes) if alive is None else len({*alive, self.node_id})
        SERVING_NODES.labels(self.node_id).set(serving)
        COVERING.labels(self.node_id).set(sum(covering.values()))
        if covering != self.covering:
            for node, n in covering.items():
                self.log.warning(
                    "node %s does not heartbeat: this node covers %d of its camera(s)", node, n
                )
            for node in sorted(set(self.covering) - set(covering)):
                self.log.info("node %s is back: its cameras go back to it", node)
        self.covering = covering
        self.log.info(
            "node %s runs %d camera(s) (%d for absent nodes; %d of %d nodes serving)",
            self.node_id,
            len(cameras),
            sum(covering.values()),
            serving,
            len(nodes),
        )

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

    def use_model(self, entry: Any) -> None:
        """Run with catalogue ``entry`` from now on (a ``ModelEntry``): events name it,
        and the rules are those it can serve (``requires``). Analyzers keep their tracks
        and incidents unless the set of rules changed."""
        from edge_agent.rules.config import for_model

        rules = for_model(self.all_rules, entry.words())
        if [r.id for r in rules] != [r.id for r in self.rules]:
            self.analyzers.clear()
            self._zones.clear()  # refresh() builds them anew with these rules
            off = sorted({r.id for r in self.all_rules} - {r.id for r in rules})
            if off:
                self.log.info("model %s lacks words for rule(s) %s: off", entry.name, off)
        self.rules = rules
        self.model_name = entry.name
        for analyzer in self.analyzers.values():
            analyzer.model = entry.name

    # ------------------------------------------------------------------ the loop

    def serve(self) -> None:
        from edge_agent.budget import tune_allocator
        from edge_agent.detector import Detector
        from edge_agent.ingest import IngestPool
        from edge_agent.model_watch import ModelWatch
        from edge_agent.outbox import Outbox
        from edge_agent.probes import AgentProbes, serve_probes
        from edge_agent.publisher import Publisher
        from edge_agent.rules.config import load_rules

        cfg = self.config
        tune_allocator()  # per-camera memory: edge_agent/budget.py
        self.all_rules = load_rules(cfg.rules_file).active()

        def make_detector(entry: Any) -> Detector:
            return Detector(
                entry,
                cfg.detector,
                weights_dir=self.weights_dir,
                engines_dir=self.settings.data_dir() / "engines",
            )

        models = ModelWatch(self.config_file, cfg, self.weights_dir, make_detector)
        detector = models.load()
        entry = detector.entry
        self.use_model(entry)
        outbox = Outbox.for_node(cfg.delivery, self.settings.data_dir(), self.node_id)
        publisher = Publisher(
            self.node_id,
            cfg.delivery,
            outbox,
            camera_status=self._statuses,
            stats=self._stats,
            on_error=self.record_error,
            on_alive_nodes=self.set_alive_nodes,
        )
        probes = AgentProbes(cfg.liveness_stall_s, publisher_alive=lambda: publisher.alive)
        server = serve_probes(cfg.metrics_port, probes) if cfg.metrics_port else None
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
                probes.tick()
                if time.monotonic() >= next_refresh or self.view_changed.is_set():
                    if (switched := models.poll()) is not None:
                        detector = switched
                        self.use_model(switched.entry)
                    self.refresh()
                    probes.cameras_read = True
                    next_refresh = time.monotonic() + cfg.ingest.registry_poll_s
                self.analyse(self.pool.poll(0.2), detector, publisher)
        finally:
            if server is not None:
                server.shutdown()
            self.pool.close()
            publisher.stop()
            outbox.close()
