"""One camera's analysis: motion gate, static blobs, tracker, rules, evidence.

The live agent, per sampled frame of each camera::

    analyzer = CameraAnalyzer("cam-01", zones, rules.active(), model="yolo26n")
    if analyzer.should_detect(t, image):          # motion gate
        detections = detector.detect([image])[0]  # batched over cameras in practice
    else:
        detections = None                         # still scene: reuse the last ones
    for event in analyzer.process(t, image, detections):
        outbox.put(event.to_payload(), event.blobs())

``image`` is kept by reference in a small ring for clips, never copied: callers must
hand over a fresh array per frame (decoders do) and not write into it afterwards.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from edge_agent.config import EvidenceConfig, MotionConfig
from edge_agent.detections import Detections
from edge_agent.events import Event, EventBox
from edge_agent.evidence import LabelledBox, annotate, clip_mp4, snapshot_jpeg
from edge_agent.motion import MotionGate, StaticForeground
from edge_agent.rules.config import RuleSpec
from edge_agent.rules.kinds import IncidentBook, Transition, View, transitions
from edge_agent.rules.zones import PolygonZone, drop_ignored, zones_for
from edge_agent.tracking import Tracker, TrackerConfig
from gridwatch.protocol import EventPhase
from gridwatch.registry.zones import Zone

Image = npt.NDArray[np.uint8]


@dataclass
class AnalyzerStats:
    samples: int = 0
    detector_runs: int = 0
    events: int = 0


@dataclass
class _RuleState:
    rule: RuleSpec
    zones: list[PolygonZone]
    book: IncidentBook


@dataclass
class CameraAnalyzer:
    """Per-camera state; :meth:`process` once per sampled frame returns new events."""

    camera_id: str
    zones: list[Zone]
    rules: list[RuleSpec]
    model: str = "yolo26n"
    motion: MotionConfig = field(default_factory=MotionConfig)
    evidence: EvidenceConfig = field(default_factory=EvidenceConfig)
    tracker_config: TrackerConfig = field(default_factory=TrackerConfig)
    stats: AnalyzerStats = field(default_factory=AnalyzerStats)

    def __post_init__(self) -> None:
        self.gate = MotionGate(self.motion)
        self.background = StaticForeground(self.motion)
        self.tracker = Tracker(self.tracker_config)
        self._rules = [
            _RuleState(r, zones_for(r, self.zones), IncidentBook(r))
            for r in self.rules
            if r.enabled
        ]
        self._frames: deque[tuple[float, Image]] = deque(maxlen=max(1, self.evidence.clip_frames))
        self._last = Detections.empty()
        self.seen = Detections.empty()  # what the tracker got last: detections and blobs
        self._min_conf = min((r.min_confidence for r in self.rules), default=0.25)

    def should_detect(self, t: float, image: Image) -> bool:
        """The motion gate: False when the scene is still since the last analysed frame."""
        return self.gate.should_detect(self.camera_id, t, image)

    def process(self, t: float, image: Image, detections: Detections | None) -> list[Event]:
        """Feed one sample (``detections`` None: detector skipped, reuse the last ones)."""
        self.stats.samples += 1
        if detections is None:
            detections = self._last
        else:
            self.stats.detector_runs += 1
            self._last = detections
        h, w = image.shape[:2]
        dets = detections[detections.confidence >= self._min_conf]
        if self.motion.static_objects:
            dets = Detections.merge([dets, self.background.update(t, image, dets)])
        dets = drop_ignored(dets, self.zones, (w, h))
        self.seen = dets
        tracks = self.tracker.update(t, dets)
        self._frames.append((t, image))
        view = View(t, tracks, self.tracker, (w, h))
        events = []
        for state in self._rules:
            for tr in transitions(state.rule, state.book, state.zones, view):
                events.append(self._event(state, tr, image, t))
        self.stats.events += len(events)
        return events

    def open_incidents(self) -> int:
        return sum(len(s.book.open) for s in self._rules)

    def _event(self, state: _RuleState, tr: Transition, image: Image, t: float) -> Event:
        h, w = image.shape[:2]
        inc = tr.incident
        tracks = inc.candidate.tracks
        boxes = [
            EventBox(
                trk.label,
                trk.confidence,
                (trk.box[0] / w, trk.box[1] / h, trk.box[2] / w, trk.box[3] / h),
            )
            for trk in tracks
        ]
        phase = EventPhase(tr.phase)
        zone = next((z for z in state.zones if z.id == inc.zone_id), None)
        drawn: list[LabelledBox] = (
            []
            if phase is EventPhase.END
            else [(trk.label, trk.confidence, trk.box) for trk in tracks]
        )
        title = f"{state.rule.event_code} {state.rule.id} {phase.value}"
        picture = annotate(image, drawn, zone.polygon if zone else None, title)
        clip = None
        if phase is EventPhase.START:
            clip = clip_mp4([f for _, f in self._frames], self.evidence)
        return Event(
            incident_id=inc.incident_id,
            phase=phase,
            camera_id=self.camera_id,
            rule_id=state.rule.id,
            event_code=state.rule.event_code,
            t_start=inc.t_start,
            t_event=t,
            confidence=inc.candidate.confidence(),
            boxes=boxes,
            zone_id=inc.zone_id,
            model=self.model,
            jpeg=snapshot_jpeg(picture, self.evidence.jpeg_quality),
            clip=clip,
        )
