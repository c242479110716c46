"""Per-camera tracking across SPARSE samples (one every 1-2 s), by IoU and class.

Sampled frames are far apart, so this is not a motion-model tracker: a detection joins
the live track of the same vocabulary word with the highest IoU (or, failing that, the
nearest centre within ``max_center_shift`` box sizes), greedily, best pairs first. A
track remembers when it was first and last seen, a short box history and since when it
has held still. Tracks missed for ``max_missed_s`` expire (kept a while among
``expired``: the rules look back at who was near an object when it appeared).

>>> tr = Tracker()
>>> t1 = tr.update(0.0, Detections.from_lists([[0, 0, 10, 10]], ["car"]))
>>> t2 = tr.update(1.0, Detections.from_lists([[1, 0, 11, 10]], ["car"]))
>>> t1[0].id == t2[0].id, t2[0].hits
(True, 2)
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from edge_agent.detections import Detections, box_iou

Box = tuple[float, float, float, float]


def _center(box: Box) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def _size(box: Box) -> float:
    return max(1e-6, float(np.hypot(box[2] - box[0], box[3] - box[1])))


def center_distance(a: Box, b: Box) -> float:
    (ax, ay), (bx, by) = _center(a), _center(b)
    return float(np.hypot(ax - bx, ay - by))


@dataclass
class Track:
    """One object followed across samples."""

    id: int
    label: str
    first_seen: float
    last_seen: float
    box: Box
    confidence: float
    still_since: float
    anchor: Box
    history: deque[tuple[float, Box]] = field(default_factory=lambda: deque(maxlen=32))
    hits: int = 1
    misses: int = 0
    moved: bool = False

    def static_for(self, t: float) -> float:
        """Seconds the track has held still (0 right after it moved)."""
        return t - self.still_since


@dataclass
class TrackerConfig:
    iou_threshold: float = 0.25
    max_center_shift: float = 0.6  # fallback match: centre moved < this × box diagonal
    move_tolerance: float = 0.25  # moved: centre left its anchor by > this × box diagonal
    max_missed_s: float = 4.0
    carrier_lookback_s: float = 6.0  # carrier: persons seen up to this long before


class Tracker:
    """Tracks of one camera; :meth:`update` once per analysed sample."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self.tracks: list[Track] = []
        self.expired: deque[Track] = deque(maxlen=64)
        self._next_id = 1

    def update(self, t: float, detections: Detections) -> list[Track]:
        """Match ``detections`` to tracks; returns the tracks seen in this sample."""
        self._expire(t)
        boxes = [tuple(float(v) for v in b) for b in detections.xyxy]
        pairs = self._match(detections, boxes)
        seen: list[Track] = []
        matched_dets = set()
        for ti, di in pairs:
            track = self.tracks[ti]
            self._advance(track, t, boxes[di], float(detections.confidence[di]))  # type: ignore[arg-type]
            matched_dets.add(di)
            seen.append(track)
        for di, box in enumerate(boxes):
            if di not in matched_dets:
                track = self._start(t, detections.labels[di], box, detections.confidence[di])  # type: ignore[arg-type]
                seen.append(track)
        for track in self.tracks:
            if track.last_seen < t:
                track.misses += 1
        return seen

    def get(self, track_id: int) -> Track | None:
        for track in (*self.tracks, *self.expired):
            if track.id == track_id:
                return track
        return None

    def _expire(self, t: float) -> None:
        keep = []
        for track in self.tracks:
            if t - track.last_seen > self.config.max_missed_s:
                self.expired.append(track)
            else:
                keep.append(track)
        self.tracks = keep

    def _match(
        self, detections: Detections, boxes: list[tuple[float, ...]]
    ) -> list[tuple[int, int]]:
        if not self.tracks or not boxes:
            return []
        cfg = self.config
        iou = box_iou(np.array([tr.box for tr in self.tracks], np.float32), detections.xyxy)
        scores: list[tuple[float, int, int]] = []
        for ti, track in enumerate(self.tracks):
            for di, box in enumerate(boxes):
                if detections.labels[di] != track.label:
                    continue
                if iou[ti, di] >= cfg.iou_threshold:
                    scores.append((1.0 + float(iou[ti, di]), ti, di))
                else:
                    shift = center_distance(track.box, box) / _size(track.box)  # type: ignore[arg-type]
                    if shift < cfg.max_center_shift:
                        scores.append((1.0 - shift, ti, di))
        pairs, used_t, used_d = [], set(), set()
        for _, ti, di in sorted(scores, reverse=True):
            if ti not in used_t and di not in used_d:
                pairs.append((ti, di))
                used_t.add(ti)
                used_d.add(di)
        return pairs

    def _advance(self, track: Track, t: float, box: Box, confidence: float) -> None:
        if center_distance(track.anchor, box) > self.config.move_tolerance * _size(track.anchor):
            track.anchor = box
            track.still_since = t
            track.moved = True
        track.box = box
        track.last_seen = t
        track.confidence = max(confidence, 0.8 * track.confidence)
        track.hits += 1
        track.misses = 0
        track.history.append((t, box))

    def _start(self, t: float, label: str, box: Box, confidence: float) -> Track:
        track = Track(self._next_id, label, t, t, box, float(confidence), t, box)
        track.history.append((t, box))
        self._next_id += 1
        self.tracks.append(track)
        return track
