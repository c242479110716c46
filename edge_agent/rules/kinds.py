"""Rule kinds: each turns a camera's tracks in one zone into candidates, then an
:class:`IncidentBook` turns candidates into START and END transitions.

A candidate is "something this rule is watching" (a parked car, a stall with its
vendor): ``since`` is when its condition began to hold, and it is ``ready`` once it has
held ``dwell_s``. The book opens one incident per ready candidate (START), keeps it open
while the candidate is still seen, and closes it (END) after ``end_after_s`` without.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from edge_agent.detections import Detections, box_iou
from edge_agent.motion import BLOB_WORD
from edge_agent.rules.config import RuleKind, RuleSpec
from edge_agent.rules.zones import PolygonZone
from edge_agent.tracking import Box, Track, Tracker


@dataclass
class Candidate:
    """What a rule watches in one zone: its key, boxes, and since when it holds."""

    key: str
    zone_id: str | None
    since: float | None  # None: present, but the condition does not hold now
    t_first: float  # when the object (or the first of them) was first seen
    tracks: list[Track]

    def box(self) -> Box:
        """The union of the candidate's boxes (pixels)."""
        arr = np.array([tr.box for tr in self.tracks], np.float32)
        return (
            float(arr[:, 0].min()),
            float(arr[:, 1].min()),
            float(arr[:, 2].max()),
            float(arr[:, 3].max()),
        )

    def confidence(self) -> float:
        return float(np.mean([tr.confidence for tr in self.tracks])) if self.tracks else 0.0


@dataclass
class View:
    """What a rule sees at time ``t``: the camera's live tracks and the image size."""

    t: float
    tracks: list[Track]
    tracker: Tracker
    size: tuple[int, int]

    def in_zone(self, rule: RuleSpec, zone: PolygonZone, labels: list[str]) -> list[Track]:
        if zone.polygon is None:
            # Static foreground blobs are too common on a whole busy frame (a person who
            # stands still, a parked bicycle the model missed): they count only inside
            # zones an engineer drew.
            labels = [word for word in labels if word != BLOB_WORD]
        chosen = [tr for tr in self.tracks if tr.label in labels]
        if not chosen:
            return []
        dets = Detections.from_lists([tr.box for tr in chosen], [tr.label for tr in chosen])
        mask = zone.trigger(dets, self.size, rule.anchor)
        return [tr for tr, inside in zip(chosen, mask, strict=True) if inside]


def _near(a: Box, b: Box, near: float) -> bool:
    """Box ``a`` is within ``near`` diagonals of ``b`` (gap between the boxes)."""
    diag = float(np.hypot(b[2] - b[0], b[3] - b[1]))
    pad = near * diag
    return not (a[2] < b[0] - pad or a[0] > b[2] + pad or a[3] < b[1] - pad or a[1] > b[3] + pad)


def _carrier_left_at(rule: RuleSpec, obj: Track, view: View) -> float | None:
    """When the object's carrier was last near it (None: it is near now, or no carrier)."""
    carrier = obj.carrier
    if carrier is None:
        return obj.still_since if not rule.require_carrier else None
    diag = float(np.hypot(obj.box[2] - obj.box[0], obj.box[3] - obj.box[1]))
    if carrier.distance > rule.near * diag + diag:
        return obj.still_since if not rule.require_carrier else None
    person = view.tracker.get(carrier.track_id)
    if person is None:
        return obj.still_since
    last_near = obj.first_seen
    for when, box in person.history:
        if _near(box, obj.box, rule.near):
            last_near = max(last_near, when)
    if person.last_seen >= view.t and _near(person.box, obj.box, rule.near):
        return None
    return last_near


def left_object(rule: RuleSpec, zone: PolygonZone, view: View, hold: Holder) -> list[Candidate]:
    """A new static object that stays after the person who brought it has gone."""
    out = []
    for obj in view.in_zone(rule, zone, rule.classes):
        left_at = _carrier_left_at(rule, obj, view) if obj.hits >= 2 else None
        since = None if left_at is None else max(left_at, obj.still_since)
        out.append(Candidate(f"track:{obj.id}", zone.id, since, obj.first_seen, [obj]))
    return out


def dwell(rule: RuleSpec, zone: PolygonZone, view: View, hold: Holder) -> list[Candidate]:
    """An object of the rule's classes holds still in the zone."""
    return [
        Candidate(
            f"track:{tr.id}", zone.id, tr.still_since if tr.hits >= 2 else None, tr.first_seen, [tr]
        )
        for tr in view.in_zone(rule, zone, rule.classes)
    ]


def vending(rule: RuleSpec, zone: PolygonZone, view: View, hold: Holder) -> list[Candidate]:
    """Persons (at least ``min_count``) stay beside static vending props."""
    props = [p for p in view.in_zone(rule, zone, rule.props) if p.hits >= 2]
    if not props:
        return []
    people = [
        tr
        for tr in view.tracks
        if tr.label in rule.classes and any(_near(tr.box, p.box, rule.near) for p in props)
    ]
    key = f"zone:{zone.id}"
    holds = len(people) >= rule.min_count
    since = hold.update(key, view.t, holds, rule.end_after_s)
    t_first = min(p.first_seen for p in props)
    return [Candidate(key, zone.id, since if holds else None, t_first, props + people)]


def count(rule: RuleSpec, zone: PolygonZone, view: View, hold: Holder) -> list[Candidate]:
    """At least ``min_count`` static objects of the rule's classes in the zone."""
    still = [tr for tr in view.in_zone(rule, zone, rule.classes) if tr.hits >= 2]
    still = [tr for tr in still if tr.static_for(view.t) > 0 or not tr.moved]
    if not still:
        return []
    key = f"zone:{zone.id}"
    holds = len(still) >= rule.min_count
    since = hold.update(key, view.t, holds, rule.end_after_s)
    return [
        Candidate(key, zone.id, since if holds else None, min(tr.first_seen for tr in still), still)
    ]


@dataclass
class Holder:
    """Since when a zone-wide condition has held, forgiving gaps up to ``grace`` seconds."""

    since: dict[str, float] = field(default_factory=dict)
    last_true: dict[str, float] = field(default_factory=dict)

    def update(self, key: str, t: float, holds: bool, grace: float) -> float | None:
        if holds:
            self.since.setdefault(key, t)
            self.last_true[key] = t
        elif key in self.last_true and t - self.last_true[key] > grace:
            self.since.pop(key, None)
            self.last_true.pop(key, None)
        return self.since.get(key)


Evaluator = Callable[[RuleSpec, PolygonZone, View, Holder], list[Candidate]]
KINDS: dict[RuleKind, Evaluator] = {
    RuleKind.LEFT_OBJECT: left_object,
    RuleKind.DWELL: dwell,
    RuleKind.VENDING: vending,
    RuleKind.COUNT: count,
}


@dataclass
class Incident:
    """One open incident of one rule."""

    incident_id: str
    key: str
    zone_id: str | None
    t_start: float
    t_fired: float
    box: Box
    last_present: float
    candidate: Candidate


@dataclass(frozen=True)
class Transition:
    phase: str  # "start" or "end"
    incident: Incident


class IncidentBook:
    """A rule's incidents on one camera: one START per incident, END when it is gone.

    A candidate that matches an open incident (same key, or the same zone and a box
    overlapping it) only keeps it open. A new START at a place (same key or a box near
    the last one) is suppressed for ``cooldown_s`` after the previous START there, while
    that incident is still open (a track that broke up and came back); the place is
    re-armed as soon as the incident ends (the object left).
    """

    def __init__(self, rule: RuleSpec) -> None:
        self.rule = rule
        self.open: list[Incident] = []
        self.holder = Holder()

    def step(self, t: float, candidates: list[Candidate]) -> list[Transition]:
        out: list[Transition] = []
        for cand in candidates:
            incident = self._match(cand)
            if incident is not None:
                incident.last_present = t
                incident.key = cand.key
                incident.box = cand.box()
                incident.candidate = cand
            elif self._ready(t, cand) and self._armed(t, cand):
                incident = Incident(
                    uuid.uuid4().hex, cand.key, cand.zone_id, cand.t_first, t, cand.box(), t, cand
                )
                self.open.append(incident)
                out.append(Transition("start", incident))
        for incident in list(self.open):
            if t - incident.last_present >= self.rule.end_after_s:
                self.open.remove(incident)
                out.append(Transition("end", incident))
        return out

    def _ready(self, t: float, cand: Candidate) -> bool:
        return cand.since is not None and t - cand.since >= self.rule.dwell_s

    def _armed(self, t: float, cand: Candidate) -> bool:
        box = cand.box()
        for inc in self.open:
            if inc.zone_id != cand.zone_id or t - inc.t_fired >= self.rule.cooldown_s:
                continue
            diag = float(np.hypot(inc.box[2] - inc.box[0], inc.box[3] - inc.box[1]))
            dist = float(
                np.hypot(
                    (box[0] + box[2] - inc.box[0] - inc.box[2]) / 2,
                    (box[1] + box[3] - inc.box[1] - inc.box[3]) / 2,
                )
            )
            if cand.key.startswith("zone:") or dist < diag:
                return False
        return True

    def _match(self, cand: Candidate) -> Incident | None:
        for incident in self.open:
            if incident.key == cand.key:
                return incident
        box = np.array([cand.box()], np.float32)
        for incident in self.open:
            same_zone = incident.zone_id == cand.zone_id
            if same_zone and box_iou(box, np.array([incident.box], np.float32))[0, 0] > 0.3:
                return incident
        return None


def transitions(
    rule: RuleSpec, book: IncidentBook, zones: list[PolygonZone], view: View
) -> list[Transition]:
    """Evaluate ``rule`` on every zone it watches and step its incident book."""
    evaluate = KINDS[rule.kind]
    candidates = [c for zone in zones for c in evaluate(rule, zone, view, book.holder)]
    return book.step(view.t, candidates)
