"""Motion gate and static-foreground blobs, both on small grey copies of each frame.

:class:`MotionGate` decides per camera whether a sampled frame needs the detector: it
compares a blurred grey thumbnail (``MotionConfig.width`` wide) with the one of the LAST
ANALYSED frame; a still scene skips detection and reuses the previous detections.
After ``max_skip_s`` without detection it detects anyway.

:class:`StaticForeground` finds objects that appear and stay although no model class
explains them (a dumped cardboard box): a slowly updated background, and pixels that
differ from it yet have held still for ``blob_static_s`` seconds form a blob.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

from edge_agent.config import MotionConfig
from edge_agent.detections import Detections, box_coverage

Image = npt.NDArray[np.uint8]
BLOB_WORD = "object"


def small_grey(image: Image, width: int) -> npt.NDArray[np.float32]:
    """A blurred grey copy ``width`` pixels wide (float32), cheap to compare."""
    h, w = image.shape[:2]
    height = max(1, round(h * width / w))
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    small = cv2.resize(grey, (width, height), interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(small, (3, 3), 0).astype(np.float32)


@dataclass
class GateStats:
    """Counters of one camera's gate (exported as metrics by the live agent)."""

    frames_seen: int = 0
    frames_skipped: int = 0

    @property
    def skip_rate(self) -> float:
        return self.frames_skipped / self.frames_seen if self.frames_seen else 0.0


@dataclass
class MotionGate:
    """Per-camera gate: ``should_detect(camera_id, t, image)`` is False for a still scene.

    Call :meth:`analysed` after the detector ran on a frame, so the next comparison is
    against that frame (``should_detect`` does it for you when it returns True).
    """

    config: MotionConfig = field(default_factory=MotionConfig)
    stats: dict[str, GateStats] = field(default_factory=dict)
    _last: dict[str, tuple[float, npt.NDArray[np.float32]]] = field(default_factory=dict)

    def changed_fraction(self, camera_id: str, image: Image) -> float:
        """Share of thumbnail pixels that changed since the last analysed frame (1.0: none)."""
        last = self._last.get(camera_id)
        small = small_grey(image, self.config.width)
        if last is None or last[1].shape != small.shape:
            return 1.0
        changed = np.abs(small - last[1]) > self.config.pixel_threshold
        return float(changed.mean())

    def should_detect(self, camera_id: str, t: float, image: Image) -> bool:
        """True when the detector should run on ``image`` (and it becomes the reference)."""
        stats = self.stats.setdefault(camera_id, GateStats())
        stats.frames_seen += 1
        cfg = self.config
        last = self._last.get(camera_id)
        if (
            cfg.enabled
            and last is not None
            and t - last[0] < cfg.max_skip_s
            and self.changed_fraction(camera_id, image) < cfg.min_changed_fraction
        ):
            stats.frames_skipped += 1
            return False
        self._last[camera_id] = (t, small_grey(image, cfg.width))
        return True

    def forget(self, camera_id: str) -> None:
        """Drop a camera's state (it left this node)."""
        self._last.pop(camera_id, None)
        self.stats.pop(camera_id, None)


@dataclass
class StaticForeground:
    """One camera's slow background model; :meth:`update` returns static blobs.

    Blobs mostly covered by a model detection are dropped: the detection explains them.
    The first few samples build the background from their median, so people in the
    first frame do not leave "ghost" blobs when they walk away.
    """

    config: MotionConfig = field(default_factory=MotionConfig)
    warmup: int = 5
    _bg: npt.NDArray[np.float32] | None = None
    _prev: npt.NDArray[np.float32] | None = None
    _age: npt.NDArray[np.float32] | None = None
    _t: float | None = None
    _stack: list[npt.NDArray[np.float32]] = field(default_factory=list)

    def update(self, t: float, image: Image, explained: Detections | None = None) -> Detections:
        """Feed one sampled frame; returns static blobs (label ``object``) in pixels."""
        cfg = self.config
        small = small_grey(image, cfg.background_width)
        if self._bg is None or self._bg.shape != small.shape or self._t is None:
            self._reset(t, small)
            return Detections.empty()
        dt = max(0.0, t - self._t)
        self._t = t
        if len(self._stack) < self.warmup:
            self._stack.append(small)
            self._bg = np.median(np.stack(self._stack), axis=0).astype(np.float32)
            self._prev = small
            return Detections.empty()
        assert self._prev is not None and self._age is not None
        fg = np.abs(small - self._bg) > cfg.blob_threshold
        still = np.abs(small - self._prev) < cfg.blob_threshold
        self._age = np.where(fg & still, self._age + dt, 0.0).astype(np.float32)
        alpha = 1.0 - math.exp(-dt / cfg.background_tau_s)
        self._bg += alpha * (small - self._bg)
        self._prev = small
        blobs = self._blobs(image.shape[1] / small.shape[1])
        if explained is not None and len(explained) and len(blobs):
            covered = box_coverage(blobs.xyxy, explained.xyxy).max(axis=1) > 0.5
            blobs = blobs[~covered]
        return blobs

    def _reset(self, t: float, small: npt.NDArray[np.float32]) -> None:
        self._bg = small.copy()
        self._prev = small
        self._age = np.zeros_like(small)
        self._t = t
        self._stack = [small]

    def _blobs(self, scale: float) -> Detections:
        assert self._age is not None
        raw = (self._age >= max(self.config.blob_static_s, 1e-6)).astype(np.uint8)
        mask = cv2.morphologyEx(raw, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        area = float(mask.size)
        boxes = []
        for x, y, w, h, count in stats[1:n]:
            share = count / area
            if self.config.blob_min_area <= share <= self.config.blob_max_area:
                boxes.append([x * scale, y * scale, (x + w) * scale, (y + h) * scale])
        return Detections.from_lists(boxes, [BLOB_WORD] * len(boxes), [0.5] * len(boxes))
