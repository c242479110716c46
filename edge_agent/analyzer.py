"""One camera's analysis: motion gate, static blobs, tracker, rules, evidence.

The live agent, per sampled frame of each camera::

    analyzer = CameraAnalyzer("cam-01", zones, rules.active(), model="yolo26n")
    if analyzer.should_detect(t, image):          # motion gate
        detections = detector.detect([image])[0]  # batched over cameras in practice
    else:
        detections = None                         # still scene: reuse the last ones
    for event in analyzer.process(t, image, detections):
        outbox.put(event.to_payload(), event.blobs())

No raw frame is kept after :meth:`CameraAnalyzer.process` returns: the frames a START
event's clip needs wait as small JPEGs in a :class:`~edge_agent.clip_ring.ClipRing`,
and :meth:`CameraAnalyzer.nbytes` says what a camera's state holds (the per-camera
budget that ``gridwatch bench edge`` reports).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

from edge_agent.clean_frame import clean_frame
from edge_agent.clip_ring import ClipRing
from edge_agent.config import EvidenceConfig, MotionConfig, StaticConfig
from edge_agent.detections import Detections
from edge_agent.events import AFTER, BEFORE, OBJECT, Event, EventBox
from edge_agent.evidence import (
    LabelledBox,
    annotate,
    crop_around_box,
    crop_jpeg,
    snapshot_jpeg,
)
from edge_agent.motion import MotionGate
from edge_agent.rules.config import RuleSpec
from edge_agent.rules.incidents import Incident, Transition
from edge_agent.rules.kinds import RuleState, View
from edge_agent.rules.zones import drop_ignored, outside_ignored, zones_for
from edge_agent.static.objects import Look, StaticObject, StaticObjects
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
class CameraAnalyzer:
    """Per-camera state; :meth:`process` once per sampled frame returns new events."""

    camera_id: str
    zones: list[Zone]
    rules: list[RuleSpec]
    model: str = "yolo26n"
    motion: MotionConfig = field(default_factory=MotionConfig)
    evidence: EvidenceConfig = field(default_factory=EvidenceConfig)
    static: StaticConfig = field(default_factory=StaticConfig)
    tracker_config: TrackerConfig = field(default_factory=TrackerConfig)
    stats: AnalyzerStats = field(default_factory=AnalyzerStats)

    def __post_init__(self) -> None:
        self.gate = MotionGate(self.motion)
        self.statics = StaticObjects(self.static)
        self.tracker = Tracker(self.tracker_config)
        self._rules = [RuleState(r, zones_for(r, self.zones)) for r in self.rules if r.enabled]
        self.clip_ring = ClipRing.for_config(self.evidence)
        self._last = Detections.empty()
        self.seen = Detections.empty()  # what the rules got last: detections and static objects
        self._min_conf = min((r.min_confidence for r in self.rules), default=0.25)
        self._object_crops: dict[str, bytes] = {}  # incident id → the object at START

    def nbytes(self) -> dict[str, int]:
        """Memory this camera's analysis state holds, by part (edge_agent/budget.py)."""
        from edge_agent.budget import analyzer_parts

        return analyzer_parts(self)

    def should_detect(self, t: float, image: Image) -> bool:
        """The motion gate: False when the scene is still since the last analysed frame."""
        return self.gate.should_detect(self.camera_id, t, image)

    def process(
        self, t: float, image: Image, detections: Detections | None, look: Look | None = None
    ) -> list[Event]:
        """Feed one sample (``detections`` None: detector skipped, reuse the last ones).

        ``look`` runs the detector on crops (the second look at new static objects);
        without it static objects are named only by the full-frame detections.
        """
        self.stats.samples += 1
        still = detections is None
        if detections is None:
            detections = self._last
        else:
            self.stats.detector_runs += 1
            self._last = detections
        h, w = image.shape[:2]
        dets = drop_ignored(detections[detections.confidence >= self._min_conf], self.zones, (w, h))
        tracks = self.tracker.update(t, dets)
        statics: list[StaticObject] = []
        background = None
        if self.static.enabled:
            protected = [box for state in self._rules for box in state.book.boxes()]
            statics = self._not_ignored(
                self.statics.update(t, image, self.tracker, protected, look), (w, h)
            )
            background = self.statics.background if self.statics.background.ready else None
        self.seen = Detections.merge(
            [
                dets,
                Detections.from_lists(
                    [s.box for s in statics],
                    [s.label for s in statics],
                    [s.confidence for s in statics],
                ),
            ]
        )
        self.clip_ring.add(image, still=still)
        view = View(t, tracks, self.tracker, (w, h), statics)
        events = []
        for state in self._rules:
            for tr in state.step(view, background):
                events.append(self._event(state, tr, image, t))
        self.stats.events += len(events)
        return events

    def _not_ignored(
        self, statics: list[StaticObject], size: tuple[int, int]
    ) -> list[StaticObject]:
        if not statics:
            return statics
        boxes = Detections.from_lists([s.box for s in statics], [s.label for s in statics])
        keep = outside_ignored(boxes, self.zones, size)
        return [s for s, kept in zip(statics, keep, strict=True) if kept]

    def _event(self, state: RuleState, tr: Transition, image: Image, t: float) -> Event:
        h, w = image.shape[:2]
        inc = tr.incident
        parts = inc.candidate.parts
        boxes = [
            EventBox(
                p.label, p.confidence, (p.box[0] / w, p.box[1] / h, p.box[2] / w, p.box[3] / h)
            )
            for p in parts
        ]
        phase = tr.phase
        zone = next((z for z in state.zones if z.id == inc.zone_id), None)
        drawn: list[LabelledBox] = (
            [] if phase is EventPhase.END else [(p.label, p.confidence, p.box) for p in parts]
        )
        title = f"{state.rule.event_code} {state.rule.id} {phase.value}"
        picture = annotate(image, drawn, zone.polygon if zone else None, title)
        clip = frame = None
        crops: dict[str, bytes] = {}
        if phase is EventPhase.START:
            clip = self.clip_ring.clip(self.evidence)
            self._object_crops[inc.incident_id] = crop_jpeg(crop_around_box(image, inc.box))
            frame = clean_frame(image, drawn, self.seen, inc.box, self.evidence.jpeg_quality)
        else:
            crops = self._place_crops(inc, image)
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
            crops=crops,
            frame=frame,
        )

    def _place_crops(self, inc: Incident, image: Image) -> dict[str, bytes]:
        """Before (the background the object stood on), the object, and the place now,
        all framed alike (the box with half its size around it)."""
        after = crop_around_box(image, inc.box)
        crops = {}
        if inc.place is not None:
            before = inc.place.before.clip(0, 255).astype(np.uint8)
            sized = cv2.resize(before, (after.shape[1], after.shape[0]))
            crops[BEFORE] = crop_jpeg(np.asarray(sized, np.uint8))
        obj = self._object_crops.pop(inc.incident_id, None)
        if obj is not None:
            crops[OBJECT] = obj
        crops[AFTER] = crop_jpeg(after)
        return crops
