"""Rule kinds: each turns what a camera sees in one zone into candidates.

A candidate is "something this rule is watching" (a parked car, a stall with its
vendor, a bag nobody is with): ``since`` is when its condition began to hold, and it
is ready once it has held ``dwell_s`` (the zone's own dwell where it sets one). An
:class:`~edge_agent.rules.incidents.IncidentBook` turns candidates into START and END.

What a rule sees (:class:`View`): the detector's tracks and the static objects
(:mod:`edge_agent.static`): things that arrived and stopped, named by the detector or
a second look, or unnamed (``object``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from edge_agent.detections import Detections
from edge_agent.rules.config import RuleKind, RuleSpec
from edge_agent.rules.incidents import IncidentBook, Transition
from edge_agent.rules.zones import PolygonZone
from edge_agent.static.background import DualBackground
from edge_agent.static.objects import VEHICLES, StaticObject
from edge_agent.tracking import Box, Track, Tracker

ATTEND_S = 3.0  # a person who has stood near an object this long is with it
BESIDE = 0.3  # ... within this many of its diagonals (its carrier: within the rule's near)
MOVING_S = 3.0  # a vehicle track that moved within this long is moving traffic
STILL_PROP_S = 5.0  # a vending prop must have held still this long
FORGET_S = 120.0  # a rule forgets what it knew of a key unseen this long


class Part(Protocol):
    """What a candidate is made of: a track or a static object."""

    label: str
    confidence: float
    box: Box
    first_seen: float


@dataclass
class Candidate:
    """What a rule watches in one zone: its key, parts, and since when it holds."""

    key: str
    zone_id: str | None
    since: float | None  # None: present, but the condition does not hold now
    t_first: float  # when the object (or the first of them) was first seen
    parts: Sequence[Part]
    dwell_s: float | None = None  # the zone's own dwell, else the rule's

    def box(self) -> Box:
        """The union of the candidate's boxes (pixels)."""
        arr = np.array([p.box for p in self.parts], np.float32)
        return (
            float(arr[:, 0].min()),
            float(arr[:, 1].min()),
            float(arr[:, 2].max()),
            float(arr[:, 3].max()),
        )

    def confidence(self) -> float:
        return float(np.mean([p.confidence for p in self.parts])) if self.parts else 0.0


@dataclass
class View:
    """What a rule sees at time ``t``: tracks, static objects and the image size."""

    t: float
    tracks: list[Track]
    tracker: Tracker
    size: tuple[int, int]
    statics: list[StaticObject] = field(default_factory=list)

    def in_zone(self, rule: RuleSpec, zone: PolygonZone, parts: Sequence[Part]) -> list[Part]:
        """The parts whose anchor (by the rule's anchor) lies in ``zone``."""
        if not parts:
            return []
        dets = Detections.from_lists([p.box for p in parts], [p.label for p in parts])
        mask = zone.trigger(dets, self.size, rule.anchor)
        return [p for p, inside in zip(parts, mask, strict=True) if inside]

    def tracks_in(self, rule: RuleSpec, zone: PolygonZone, labels: Sequence[str]) -> list[Track]:
        chosen = [tr for tr in self.tracks if tr.label in labels]
        return [tr for tr in self.in_zone(rule, zone, chosen) if isinstance(tr, Track)]

    def statics_in(
        self, rule: RuleSpec, zone: PolygonZone, labels: Sequence[str]
    ) -> list[StaticObject]:
        chosen = [s for s in self.statics if s.label in labels]
        return [s for s in self.in_zone(rule, zone, chosen) if isinstance(s, StaticObject)]


def _diag(box: Box) -> float:
    return float(np.hypot(box[2] - box[0], box[3] - box[1]))


def _near(a: Box, b: Box, near: float) -> bool:
    """Box ``a`` is within ``near`` diagonals of ``b`` (gap between the boxes)."""
    pad = near * _diag(b)
    return not (a[2] < b[0] - pad or a[0] > b[2] + pad or a[3] < b[1] - pad or a[1] > b[3] + pad)


def _beside(person: Box, obj: Box, near: float) -> bool:
    """A person (or vehicle) box is beside an object on the ground: near it in the
    picture and standing at about its depth (their feet about level with its base, so a
    person far behind it in the picture is not beside it)."""
    if not _near(person, obj, near):
        return False
    level = max(obj[3] - obj[1], 0.3 * (person[3] - person[1]))
    return abs(person[3] - obj[3]) <= level


@dataclass
class Holder:
    """Per-rule memory across samples: zone conditions, carriers, attendance, dwell."""

    since: dict[str, float] = field(default_factory=dict)
    last_true: dict[str, float] = field(default_factory=dict)
    carriers: dict[int, tuple[int, ...]] = field(default_factory=dict)  # static id → track ids
    attended: dict[str, float] = field(default_factory=dict)  # key → last time attended
    stopped: dict[str, tuple[float, float]] = field(default_factory=dict)  # key → (t, seconds)
    seen: dict[str, float] = field(default_factory=dict)  # key → last time a candidate

    def update(self, key: str, t: float, holds: bool, grace: float) -> float | None:
        """Since when a zone-wide condition has held, forgiving gaps up to ``grace``."""
        if holds:
            self.since.setdefault(key, t)
            self.last_true[key] = t
        elif key in self.last_true and t - self.last_true[key] > grace:
            self.since.pop(key, None)
            self.last_true.pop(key, None)
        return self.since.get(key)

    def accumulate(self, key: str, t: float, counts: bool, start: float) -> float:
        """Seconds a condition has counted for ``key`` since ``start`` (paused, not reset,
        while it does not count)."""
        last, total = self.stopped.get(key, (min(start, t), 0.0))
        if counts:
            total += max(0.0, t - last)
        self.stopped[key] = (t, total)
        return total

    def forget(self, t: float, keys: set[str]) -> None:
        """Keep what was seen lately; forget keys unseen for ``FORGET_S`` (bounded state)."""
        for key in keys:
            self.seen[key] = t
        stale = {k for k, when in self.seen.items() if t - when > FORGET_S}
        for table in (self.seen, self.attended, self.stopped):
            for key in stale & set(table):
                del table[key]
        if len(self.carriers) > 512:  # static ids only grow: keep the newest
            for obj_id in sorted(self.carriers)[: len(self.carriers) - 256]:
                del self.carriers[obj_id]


# -- left objects -------------------------------------------------------------------------


def _carriers(rule: RuleSpec, obj: StaticObject, view: View, hold: Holder) -> tuple[int, ...]:
    """The tracks that brought it: persons (or a vehicle it came off) near it around the
    time it appeared. Decided once that time is past."""
    known = hold.carriers.get(obj.id)
    if known is not None:
        return known
    lookback = view.tracker.config.carrier_lookback_s
    found = []
    for track in (*view.tracker.tracks, *view.tracker.expired):
        if track.label != "person" and track.label not in VEHICLES:
            continue
        if any(
            obj.first_seen - lookback <= when <= obj.first_seen + lookback
            and _beside(box, obj.box, rule.near)
            for when, box in track.history
        ):
            found.append(track.id)
    if found or view.t - obj.first_seen > lookback:
        hold.carriers[obj.id] = tuple(found)
    return tuple(found)


def _carried_until(rule: RuleSpec, obj: StaticObject, view: View, ids: tuple[int, ...]) -> float:
    """The last time one of its carriers was near it."""
    last = -1e18
    for track_id in ids:
        track = view.tracker.get(track_id)
        if track is None:
            continue
        for when, box in track.history:
            if _beside(box, obj.box, rule.near):
                last = max(last, when)
    return last


def _attended(rule: RuleSpec, obj: StaticObject, view: View, carriers: tuple[int, ...]) -> bool:
    """Its carrier has stayed near the object, or someone else right beside it (an owner
    waiting with a bag), for ``ATTEND_S``: not a passer-by."""
    for track in view.tracks:
        if track.label != "person" or track.last_seen < view.t:
            continue
        near = rule.near if track.id in carriers else BESIDE
        if not _beside(track.box, obj.box, near):
            continue
        near_since = view.t
        for when, box in reversed(track.history):
            if not _beside(box, obj.box, near):
                break
            near_since = when
        if view.t - near_since >= ATTEND_S:
            return True
    return False


def left_object(rule: RuleSpec, zone: PolygonZone, view: View, hold: Holder) -> list[Candidate]:
    """A new static object that stays after the person who brought it has gone.

    Its dwell counts from the latest of: it arrived, no person covers it, its carriers
    were last near it, and someone stood beside it (an owner waiting with a bag).
    """
    out = []
    for obj in view.statics_in(rule, zone, rule.classes):
        if not obj.is_object:
            continue
        key = f"static:{obj.id}"
        since: float | None = None
        carriers = _carriers(rule, obj, view, hold)
        if carriers or not rule.require_carrier:
            if _attended(rule, obj, view, carriers):
                hold.attended[key] = view.t
            else:
                since = max(
                    obj.first_seen,
                    obj.free_since if obj.free_since is not None else view.t,
                    _carried_until(rule, obj, view, carriers),
                    hold.attended.get(key, -1e18),
                )
        out.append(Candidate(key, zone.id, since, obj.first_seen, [obj], zone.dwell_s))
    return out


# -- parking ------------------------------------------------------------------------------


def _moving(track: Track, t: float) -> bool:
    return track.last_seen >= t and (
        track.hits == 1 or (track.moved and track.static_for(t) < MOVING_S)
    )


def _queued(vehicle: Part, view: View) -> bool:
    """Stopped in a queue: a stopped vehicle beside it and none moving near it."""
    near = [
        tr
        for tr in view.tracks
        if tr.label in VEHICLES
        and tr.last_seen >= view.t
        and tr.box != vehicle.box
        and _near(tr.box, vehicle.box, 2.0)
    ]
    if not near:
        return False  # alone: stopped where nothing else is
    return not any(_moving(tr, view.t) for tr in near)


def dwell(rule: RuleSpec, zone: PolygonZone, view: View, hold: Holder) -> list[Candidate]:
    """A vehicle (or an object of the rule's classes) that has stopped in the zone.

    Stopped time counts only while it is not queued in stopped traffic: with vehicles
    moving around it, or alone; a queue at a red light pauses the clock.
    """
    tracks = [tr for tr in view.tracks_in(rule, zone, rule.classes) if tr.hits >= 2]
    statics = [
        s
        for s in view.statics_in(rule, zone, rule.classes)
        if not any(_overlaps(s.box, tr.box) for tr in tracks)
    ]
    out = []
    parts: list[tuple[str, Part, float]] = [(f"track:{tr.id}", tr, tr.still_since) for tr in tracks]
    parts += [(f"static:{s.id}", s, s.first_seen) for s in statics]
    for key, part, still_since in parts:
        moved_now = isinstance(part, Track) and part.static_for(view.t) <= 0
        if moved_now:
            hold.stopped.pop(key, None)
            out.append(Candidate(key, zone.id, None, still_since, [part], zone.dwell_s))
            continue
        stopped = hold.accumulate(key, view.t, not _queued(part, view), still_since)
        since = view.t - stopped
        out.append(Candidate(key, zone.id, since, still_since, [part], zone.dwell_s))
    return out


def _overlaps(a: Box, b: Box) -> bool:
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(
        0.0, min(a[3], b[3]) - max(a[1], b[1])
    )
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return smaller > 0 and inter / smaller >= 0.5


# -- vending and counts ---------------------------------------------------------------------


def _carried(prop: Track, view: View) -> bool:
    """An umbrella held over a walking or waiting person, not a stall's umbrella."""
    if prop.label != "umbrella":
        return False
    cx = (prop.box[0] + prop.box[2]) / 2
    for person in view.tracks:
        if person.label != "person" or person.last_seen < view.t:
            continue
        x1, y1, x2, y2 = person.box
        if x1 <= cx <= x2 and prop.box[3] < (y1 + y2) / 2:
            return True  # the canopy ends above the person's middle: in their hand
    return False


def vending(rule: RuleSpec, zone: PolygonZone, view: View, hold: Holder) -> list[Candidate]:
    """Persons (at least ``min_count``) stay beside props that hold still (a stall)."""
    props: list[Part] = [
        p
        for p in view.tracks_in(rule, zone, rule.props)
        if p.hits >= 2 and p.static_for(view.t) >= STILL_PROP_S and not _carried(p, view)
    ]
    props += [
        s
        for s in view.statics_in(rule, zone, rule.props)
        if not any(_overlaps(s.box, p.box) for p in props)
    ]
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
    parts: list[Part] = [*props, *people]
    return [Candidate(key, zone.id, since if holds else None, t_first, parts, zone.dwell_s)]


def count(rule: RuleSpec, zone: PolygonZone, view: View, hold: Holder) -> list[Candidate]:
    """At least ``min_count`` static objects of the rule's classes in the zone."""
    still: list[Part] = [
        tr
        for tr in view.tracks_in(rule, zone, rule.classes)
        if tr.hits >= 2 and (tr.static_for(view.t) > 0 or not tr.moved)
    ]
    still += [
        s
        for s in view.statics_in(rule, zone, rule.classes)
        if not any(_overlaps(s.box, p.box) for p in still)
    ]
    if not still:
        return []
    key = f"zone:{zone.id}"
    holds = len(still) >= rule.min_count
    since = hold.update(key, view.t, holds, rule.end_after_s)
    t_first = min(p.first_seen for p in still)
    return [Candidate(key, zone.id, since if holds else None, t_first, still, zone.dwell_s)]


Evaluator = Callable[[RuleSpec, PolygonZone, View, Holder], list[Candidate]]
KINDS: dict[RuleKind, Evaluator] = {
    RuleKind.LEFT_OBJECT: left_object,
    RuleKind.DWELL: dwell,
    RuleKind.VENDING: vending,
    RuleKind.COUNT: count,
}


@dataclass
class RuleState:
    """One rule on one camera: its zones, memory and incidents."""

    rule: RuleSpec
    zones: list[PolygonZone]
    book: IncidentBook = field(init=False)
    hold: Holder = field(default_factory=Holder)

    def __post_init__(self) -> None:
        self.book = IncidentBook(self.rule)

    def step(self, view: View, background: DualBackground | None) -> list[Transition]:
        """Evaluate the rule on every zone it watches and step its incident book."""
        evaluate = KINDS[self.rule.kind]
        candidates = [c for zone in self.zones for c in evaluate(self.rule, zone, view, self.hold)]
        self.hold.forget(view.t, {c.key for c in candidates})
        return self.book.step(view.t, candidates, background)
