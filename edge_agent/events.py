"""Events found by the rules, and their mapping onto the wire format.

An :class:`Event` is what :class:`edge_agent.analyzer.CameraAnalyzer` returns: the
payload fields plus the evidence bytes. :meth:`Event.to_payload` gives the
:class:`gridwatch.protocol.EventPayload` the publisher sends, and :meth:`Event.blobs`
the frames that travel beside it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from gridwatch.protocol import Box, EventPayload, EventPhase, FramePayload

SNAPSHOT = "snapshot.jpg"
CLIP = "clip.mp4"
FRAME = "frame.jpg"  # a START's clean analysis frame (no drawings): a training image
# An END event's verification crops, framed alike: the place before the object came,
# the object when its incident opened, and the place now.
BEFORE = "before.jpg"
OBJECT = "object.jpg"
AFTER = "after.jpg"


@dataclass(frozen=True)
class EventBox:
    """A box in normalized xyxy with its vocabulary word and confidence."""

    cls: str
    conf: float
    xyxy: tuple[float, float, float, float]

    def to_box(self) -> Box:
        clip = tuple(min(1.0, max(0.0, v)) for v in self.xyxy)
        return Box(cls=self.cls, conf=min(1.0, max(0.0, self.conf)), xyxy=clip)


@dataclass(frozen=True)
class CleanFrame:
    """The analysis frame of a START as JPEG with nothing drawn on it, and its boxes in
    its pixels: the event's own (``boxes``) and all the detector and static objects saw
    (``seen``); ``signature`` is the appearance of the event's place
    (:mod:`gridwatch.appearance`)."""

    jpeg: bytes
    payload: FramePayload


@dataclass
class Event:
    """One START or END of an incident on one camera.

    ``t_start`` is when the object was first seen, ``t_event`` when the rule fired (or
    the incident ended), both on the caller's clock (unix time live, stream seconds in
    replay).
    """

    incident_id: str
    phase: EventPhase
    camera_id: str
    rule_id: str
    event_code: str
    t_start: float
    t_event: float
    confidence: float
    boxes: list[EventBox]
    zone_id: str | None
    model: str
    jpeg: bytes | None = None
    clip: bytes | None = None
    crops: dict[str, bytes] = field(default_factory=dict)
    frame: CleanFrame | None = None
    event_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def blobs(self) -> dict[str, bytes]:
        """Evidence frames by name, in the order the payload lists them."""
        out = {}
        if self.jpeg:
            out[SNAPSHOT] = self.jpeg
        if self.clip:
            out[CLIP] = self.clip
        if self.frame is not None:
            out[self.frame.payload.blob] = self.frame.jpeg
        for name in (BEFORE, OBJECT, AFTER):
            if self.crops.get(name):
                out[name] = self.crops[name]
        return out

    def to_payload(self) -> EventPayload:
        """The wire payload (evidence named, not embedded)."""
        return EventPayload(
            event_id=self.event_id,
            incident_id=self.incident_id,
            phase=self.phase,
            camera_id=self.camera_id,
            rule_id=self.rule_id,
            event_code=self.event_code,
            t_start=max(0.0, self.t_start),
            t_event=max(0.0, self.t_event),
            confidence=min(1.0, max(0.0, self.confidence)),
            boxes=[b.to_box() for b in self.boxes[:200]],
            zone_id=self.zone_id,
            model=self.model,
            evidence=list(self.blobs()),
            frame=self.frame.payload if self.frame is not None else None,
        )

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly dict (replay prints one per line)."""
        return {
            "event_id": self.event_id,
            "incident_id": self.incident_id,
            "phase": self.phase.value,
            "camera_id": self.camera_id,
            "rule_id": self.rule_id,
            "event_code": self.event_code,
            "t_start_s": round(self.t_start, 3),
            "t_event_s": round(self.t_event, 3),
            "confidence": round(self.confidence, 3),
            "zone_id": self.zone_id,
            "model": self.model,
            "boxes": [
                {"cls": b.cls, "conf": round(b.conf, 3), "xyxy": [round(v, 4) for v in b.xyxy]}
                for b in self.boxes
            ],
            "evidence": {name: len(data) for name, data in self.blobs().items()},
            "frame": self.frame.payload.model_dump(mode="json") if self.frame else None,
        }
