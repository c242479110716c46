"""The motion gate, on a small grey copy of each frame.

:class:`MotionGate` decides per camera whether a sampled frame needs the detector: it
compares a blurred grey thumbnail (``MotionConfig.width`` wide) with the one of the LAST
ANALYSED frame; a still scene skips detection and reuses the previous detections.
After ``max_skip_s`` without detection it detects anyway. (Objects that arrive and stay
are found by :mod:`edge_agent.static`.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

from edge_agent.config import MotionConfig

Image = npt.NDArray[np.uint8]


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
