"""Static objects of one camera: things that arrived, stopped, and are not a person.

Each sample, :meth:`StaticObjects.update` turns the dual background's stopped pixels,
and the detector's boxes of object classes that hold still, into :class:`StaticObject`
entries with a stable id:

- **ghosts** (a region whose outline has no new edges: where a person stood while the
  background was learnt, or a light change) are learnt into the background at once and
  never become objects;
- an object a **person** covers (a person standing still is a static region too) is
  ``covered``: it is no object while the person is there, and becomes one only if it
  stays after the person has gone, by temporal logic, not by hiding everything near a
  person when something is set down;
- a **second look** runs the detector on a crop of each new unnamed object from the
  analysis frame, with context around it, and names it (bag, furniture, a car too
  small for the full-frame pass, or a person it missed); nothing found leaves it an
  unnamed ``object``. Its cost is paid per new object, not per frame.

>>> statics = StaticObjects(StaticConfig())
>>> found = statics.update(t, image, tracker, protected=[], look=None)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from edge_agent.config import StaticConfig
from edge_agent.detections import Detections
from edge_agent.static.background import WorkBox, make_background
from edge_agent.static.regions import (
    Region,
    box_iou,
    coverage,
    is_ghost,
    light_change,
    regions,
)
from edge_agent.tracking import Box, Track, Tracker

Image = npt.NDArray[np.uint8]
Look = Callable[[Sequence[Image]], list[Detections]]

UNNAMED = "object"  # the vocabulary word of an object no class names
PERSON = "person"
VEHICLES = frozenset({"car", "truck", "bus", "motorcycle"})
# Detector classes that are objects when they hold still (a person or a moving car is not).
OBJECT_WORDS = frozenset({"bag", "furniture", "chair", "table", "bottle", "cart", "umbrella"})
FORGET_S = 8.0  # an object unseen this long is dropped (its incident, if any, lives on)
COVERED_BY = 0.5  # a person box covering this share of an object: the person is there
STILL_S = 1.5  # a track that has held still this long can cover or name an object
LOST_BESIDE = 0.25  # a person track lost this close (× the object's size) may be there
GROW = 3.0  # a region at most this many times an object's area may be that object grown
GHOST_VOTES = 3  # a region is a ghost after this many ghostly samples in a row
CONTEXT = 1.0  # a second look crops the object with this share of its size around it
MIN_CROP = 64  # ... and at least this many analysis pixels on a side


@dataclass
class StaticObject:
    """Something that arrived and stopped. ``box`` is in analysis pixels."""

    id: int
    box: Box
    first_seen: float
    last_seen: float
    source: str  # "background" or "detector"
    label: str = UNNAMED
    confidence: float = 0.5
    covered: bool = False  # a person covers it now
    free_since: float | None = None  # since when no person has covered it
    last_covered: float | None = None
    looked_at: float | None = None
    look_found: str | None = None  # what the last second look named ("" : nothing)
    work_box: WorkBox = (0, 0, 0, 0)
    ghost_votes: int = 0

    @property
    def is_object(self) -> bool:
        """Neither a person nor a vehicle, and not covered by a person now."""
        return not self.covered and self.label != PERSON and self.label not in VEHICLES


@dataclass
class StaticStats:
    """Counters of one camera's static objects (metrics, the benchmark)."""

    objects: int = 0
    ghosts: int = 0
    absorbed: int = 0
    second_looks: int = 0
    second_look_s: float = 0.0


@dataclass
class StaticObjects:
    """One camera's static objects; :meth:`update` once per sampled frame."""

    config: StaticConfig = field(default_factory=StaticConfig)
    stats: StaticStats = field(default_factory=StaticStats)

    def __post_init__(self) -> None:
        self.background = make_background(self.config)
        self.objects: list[StaticObject] = []
        self._next_id = 1

    def update(
        self,
        t: float,
        image: Image,
        tracker: Tracker,
        protected: Sequence[Box] = (),
        look: Look | None = None,
    ) -> list[StaticObject]:
        """Feed one frame; returns the static objects seen in it.

        ``tracker`` holds the camera's detector tracks (updated for this frame);
        ``protected`` the boxes of open incidents, whose place is never learnt into the
        background.
        """
        if not self.background.update(t, image):
            return []
        bg = self.background
        guarded = [bg.to_work(b) for b in protected]
        seen: list[StaticObject] = []
        for region in regions(
            bg.static_mask(), self.config.min_area, self.config.max_area, self.config.merge_gap
        ):
            obj = self._match(region.box) or self._new_from_region(t, region)
            if not self._ghost(region, obj, guarded):
                self._refresh(obj, t, region.box, seen)
        tracks = [tr for tr in tracker.tracks if tr.last_seen >= t]
        for track in tracks:
            if (
                track.label in OBJECT_WORDS
                and track.hits >= 2
                and track.static_for(t) >= self.config.static_s
            ):
                self._from_detector(t, track, seen)
        self._name(t, image, tracks, seen, look)
        self._lost_beside(t, tracker, seen)
        self._forget(t, guarded)
        return seen

    # -- objects ----------------------------------------------------------------------

    def _match(self, box: WorkBox) -> StaticObject | None:
        """The object a region (or a detector box) belongs to: mostly the same box, a part
        of it, or it a part of a region not much larger (never a train swallowing a bag)."""
        best, best_score = None, 0.0
        for obj in self.objects:
            iou = box_iou(box, obj.work_box)
            part = coverage(box, obj.work_box)
            grown = coverage(obj.work_box, box) if _area(box) <= GROW * _area(obj.work_box) else 0
            score = max(iou if iou >= 0.3 else 0.0, part if part >= 0.6 else 0.0, grown * 0.99)
            if score > best_score and (iou >= 0.3 or part >= 0.6 or grown >= 0.6):
                best, best_score = obj, score
        return best

    def _ghost(self, region: Region, obj: StaticObject, guarded: Sequence[WorkBox]) -> bool:
        """Whether the region is a ghost or a light change: then it is learnt into the
        background and its object dropped, after ``GHOST_VOTES`` still samples in a row
        that say so (a region first seen is often a part of its object only, and a
        passer-by in front of a bag hides its edges for a moment)."""
        bg = self.background
        assert bg.current is not None and bg.long is not None and bg.fg_short is not None
        x1, y1, x2, y2 = region.box
        if obj.source != "background" or bg.fg_short[y1:y2, x1:x2][region.mask].mean() > 0.2:
            return False
        cfg = self.config
        if not (
            is_ghost(bg.current, bg.long, region, cfg.ghost_margin)
            or light_change(bg.current, bg.long, region)
        ):
            obj.ghost_votes = 0
            return False
        obj.ghost_votes += 1
        if obj.ghost_votes < GHOST_VOTES or any(box_iou(region.box, g) > 0 for g in guarded):
            return False  # not sure yet; an open incident's place is never learnt in
        bg.heal(region.box, region.mask)
        self.stats.ghosts += 1
        self.objects.remove(obj)
        return True

    def _new_from_region(self, t: float, region: Region) -> StaticObject:
        bg = self.background
        assert bg.age is not None
        x1, y1, x2, y2 = region.box
        age = float(bg.age[y1:y2, x1:x2][region.mask].max())
        return self._add(t - age, region.box, "background")

    def _from_detector(self, t: float, track: Track, seen: list[StaticObject]) -> None:
        work = self.background.to_work(track.box)
        obj = self._match(work)
        if obj is None:
            obj = self._add(track.still_since, work, "detector")
        elif obj.source == "background":
            obj.source = "detector"  # the detector sees what the background found: its box
        self._refresh(obj, t, work, seen, exact=True)

    def _add(self, first_seen: float, box: WorkBox, source: str) -> StaticObject:
        obj = StaticObject(
            self._next_id, self.background.to_image(box), first_seen, first_seen, source
        )
        obj.work_box = box
        self._next_id += 1
        self.objects.append(obj)
        self.stats.objects += 1
        return obj

    def _refresh(
        self,
        obj: StaticObject,
        t: float,
        box: WorkBox,
        seen: list[StaticObject],
        exact: bool = False,
    ) -> None:
        """``obj`` is seen at ``box``. A region seen twice in one sample (fragments) grows a
        background object; a detector object keeps the detector's box (``exact``)."""
        if obj not in seen:
            seen.append(obj)
        elif not exact and obj.source == "background":
            box = (
                min(box[0], obj.work_box[0]),
                min(box[1], obj.work_box[1]),
                max(box[2], obj.work_box[2]),
                max(box[3], obj.work_box[3]),
            )
        obj.last_seen = t
        if obj.source == "detector" and not exact:
            return
        obj.work_box = box
        obj.box = self.background.to_image(box)

    def _forget(self, t: float, guarded: Sequence[WorkBox]) -> None:
        keep = []
        for obj in self.objects:
            held = any(box_iou(obj.work_box, g) > 0 for g in guarded)
            if t - obj.last_seen > FORGET_S:
                continue
            if not held and t - obj.first_seen > self.config.absorb_after_s:
                self.background.heal(obj.work_box)  # long enough: it is the scene now
                self.stats.absorbed += 1
                continue
            keep.append(obj)
        self.objects = keep

    # -- naming -----------------------------------------------------------------------

    def _name(
        self,
        t: float,
        image: Image,
        tracks: Sequence[Track],
        seen: list[StaticObject],
        look: Look | None,
    ) -> None:
        # Only what holds still names or covers an object: a passer-by walking in front
        # of a bag, or a car driving past it, is neither its owner nor its class.
        still = [tr for tr in tracks if tr.last_seen >= t and tr.static_for(t) >= STILL_S]
        persons = [tr.box for tr in still if tr.label == PERSON]
        things = [tr for tr in still if tr.label != PERSON]
        due: list[StaticObject] = []
        for obj in seen:
            obj.covered = _covered(obj.box, persons)
            named = _named_by(obj.box, [(tr.label, tr.confidence, tr.box) for tr in things])
            if named is not None:
                obj.label, obj.confidence = named
            elif (
                look is not None
                and self.config.second_look
                and obj.label == UNNAMED
                and not obj.covered
                and (obj.looked_at is None or t - obj.looked_at >= self.config.second_look_every_s)
            ):
                due.append(obj)
            if obj.look_found == PERSON and obj.looked_at is not None:
                obj.covered = obj.covered or t - obj.looked_at < self.config.second_look_every_s
        if due and look is not None:
            self._second_look(t, image, due, look)
        for obj in seen:
            if obj.covered:
                obj.free_since = None
            elif obj.free_since is None:
                # Free since it arrived if nobody covers it when first found; since now if
                # someone did until a moment ago.
                obj.free_since = obj.first_seen if obj.last_covered is None else t
            if obj.covered:
                obj.last_covered = t

    def _lost_beside(self, t: float, tracker: Tracker, seen: list[StaticObject]) -> None:
        """A person whose track ended beside the object when it appeared is likely still
        there, unseen (sitting, half out of the picture, or the object itself): it stays
        covered until a person is seen again near where that track ended (the same
        person, whose track broke as they walked off between samples, or who stood up)."""
        lookback = tracker.config.carrier_lookback_s
        persons = [tr for tr in (*tracker.tracks, *tracker.expired) if tr.label == PERSON]
        for obj in seen:
            if obj.covered:
                continue
            pad = LOST_BESIDE * float(np.hypot(obj.box[2] - obj.box[0], obj.box[3] - obj.box[1]))
            for person in persons:
                lost = person.last_seen < t - STILL_S
                around = obj.first_seen - lookback <= person.last_seen <= obj.first_seen + lookback
                if not (lost and around and _gap(person.box, obj.box) <= pad):
                    continue
                back = any(_continues(other, person, lookback) for other in persons)
                if not back:
                    obj.covered, obj.free_since, obj.last_covered = True, None, t
                    break

    def _second_look(self, t: float, image: Image, due: list[StaticObject], look: Look) -> None:
        import time

        crops, offsets = [], []
        for obj in due:
            crop, origin = crop_around(image, obj.box)
            crops.append(crop)
            offsets.append(origin)
        started = time.perf_counter()
        results = look(crops)
        self.stats.second_look_s += time.perf_counter() - started
        self.stats.second_looks += len(due)
        for obj, dets, (ox, oy) in zip(due, results, offsets, strict=True):
            obj.looked_at = t
            found = [
                (word, float(conf), (b[0] + ox, b[1] + oy, b[2] + ox, b[3] + oy))
                for word, conf, b in zip(dets.labels, dets.confidence, dets.xyxy, strict=True)
            ]
            if _covered(obj.box, [b for word, _, b in found if word == PERSON]):
                obj.look_found, obj.covered = PERSON, True
                continue
            named = _named_by(obj.box, found)
            obj.look_found = named[0] if named else ""
            if named is not None:
                obj.label, obj.confidence = named

    def nbytes(self) -> int:
        """Memory this camera's static state holds (backgrounds and objects)."""
        return self.background.nbytes() + 200 * len(self.objects)


def crop_around(image: Image, box: Box) -> tuple[Image, tuple[int, int]]:
    """The part of ``image`` around ``box`` with context; and where it starts (x, y)."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = box
    bw, bh = x2 - x1, y2 - y1
    side = max(MIN_CROP, (1 + 2 * CONTEXT) * max(bw, bh))
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    X1 = int(max(0, min(w - side, cx - side / 2)))
    Y1 = int(max(0, min(h - side, cy - side / 2)))
    X2, Y2 = int(min(w, X1 + side)), int(min(h, Y1 + side))
    return image[Y1:Y2, X1:X2], (X1, Y1)


def _covered(box: Box, persons: Sequence[Box]) -> bool:
    """Whether one of the person boxes covers ``COVERED_BY`` of ``box``."""
    area = max(1e-6, (box[2] - box[0]) * (box[3] - box[1]))
    return any(_inter(box, p) / area >= COVERED_BY for p in persons)


def _named_by(box: Box, found: Sequence[tuple[str, float, Box]]) -> tuple[str, float] | None:
    """The word of the most confident non-person box that lies on ``box``: half of it
    inside the object, covering a third of the object at least (a bag inside a large
    region does not name the region)."""
    best: tuple[str, float] | None = None
    area = max(1e-6, (box[2] - box[0]) * (box[3] - box[1]))
    for word, conf, other in found:
        if word == PERSON:
            continue
        inter = _inter(box, other)
        other_area = max(1e-6, (other[2] - other[0]) * (other[3] - other[1]))
        on_it = inter / other_area >= 0.5 and inter / area >= 1 / 3
        if (on_it or inter / area >= 0.5) and (best is None or conf > best[1]):
            best = (word, conf)
    return best


def _area(box: WorkBox) -> int:
    return max(0, box[2] - box[0]) * max(0, box[3] - box[1])


def _continues(other: Track, lost: Track, within_s: float) -> bool:
    """``other`` was seen, soon after ``lost`` was last seen, within a body size of where
    it was (the same person, whatever track the sightings were given to)."""
    size = float(np.hypot(lost.box[2] - lost.box[0], lost.box[3] - lost.box[1]))
    return any(
        lost.last_seen < when <= lost.last_seen + within_s and _gap(box, lost.box) <= size
        for when, box in other.history
    )


def _gap(a: Box, b: Box) -> float:
    dx = max(0.0, max(a[0], b[0]) - min(a[2], b[2]))
    dy = max(0.0, max(a[1], b[1]) - min(a[3], b[3]))
    return float(np.hypot(dx, dy))


def _inter(a: Box, b: Box) -> float:
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
