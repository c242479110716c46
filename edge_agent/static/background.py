"""Two backgrounds, one that forgets nothing new and one that follows everything.

The dual-background method (Porikli, Ivanov and Haga, 2008): on a small colour copy of
each sampled frame, a **long-term** background learns only where it sees background
(selective update: a pixel that differs from it is left alone), so an object that
arrives and stays is never learnt in while it stays; a **short-term** background follows
every pixel within seconds. A pixel that differs from the long-term background but no
longer from the short-term one belongs to something that arrived and stopped; its
static age counts up while that holds, holds still while something moves over it
(a passer-by occluding a bag), and falls away within a sample or two when the pixel
looks like the background again (the object left).

Everything the rest of the system needs from the pictures is here too: the long-term
patch under a box ("before"), the current one, and :meth:`heal` for regions found to be
no object at all (a ghost, a light change), which are learnt in at once.

>>> bg = DualBackground(StaticConfig())
>>> for t in range(5):
...     _ = bg.update(float(t), frame)          # doctest: +SKIP
>>> bg.static_mask().any()                    # doctest: +SKIP
False
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import numpy.typing as npt

from edge_agent.config import StaticConfig

Image = npt.NDArray[np.uint8]
Float = npt.NDArray[np.float32]
Mask = npt.NDArray[np.bool_]
WorkBox = tuple[int, int, int, int]  # x1, y1, x2, y2 in work pixels, end exclusive

WARMUP = 5  # samples whose median starts both backgrounds
RELEARN_SHARE = 0.6  # this share of the picture changed at once: light switch, camera moved


class DualBackground:
    """One camera's backgrounds; :meth:`update` once per sampled frame."""

    def __init__(self, config: StaticConfig) -> None:
        self.config = config
        self.long: Float | None = None
        self.short: Float | None = None
        self.current: Float | None = None
        self.age: Float | None = None
        self.fg_long: Mask | None = None
        self.fg_short: Mask | None = None
        self.scale = 1.0  # analysis pixels per work pixel
        self._t: float | None = None
        self._stack: list[Float] = []
        self._relearn_votes = 0

    @property
    def ready(self) -> bool:
        return self.long is not None and not self._stack

    def small(self, image: Image) -> Float:
        """The work copy: ``config.width`` wide, lightly blurred, float32 BGR."""
        h, w = image.shape[:2]
        width = min(self.config.width, w)
        height = max(1, round(h * width / w))
        self.scale = w / width
        small = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
        return cv2.GaussianBlur(small, (3, 3), 0).astype(np.float32)

    def update(self, t: float, image: Image) -> bool:
        """Feed one frame; True once the backgrounds are ready (after the warm-up)."""
        small = self.small(image)
        self.current = small
        if self.long is None or self.long.shape != small.shape or self._t is None:
            self._restart(t, small)
            return False
        dt = max(0.0, t - self._t)
        self._t = t
        if self._stack:
            self._stack.append(small)
            median = np.median(np.stack(self._stack), axis=0).astype(np.float32)
            self.long, self.short = median, median.copy()
            if len(self._stack) >= WARMUP:
                self._stack = []  # warm: the stack is no longer needed
            return self.ready
        assert self.short is not None and self.age is not None
        fg_long, fg_short = self._step(small, dt)
        if fg_long.mean() > RELEARN_SHARE:
            self._relearn_votes += 1
            if self._relearn_votes >= 2:  # not one odd frame: the whole picture changed
                self._restart(t, small)
                return False
        else:
            self._relearn_votes = 0
        stopped = fg_long & ~fg_short
        age = self.age
        age[stopped] += dt
        # Background again (the object left): the age falls within a sample or two.
        age[~fg_long] = np.maximum(0.0, 0.25 * age[~fg_long] - dt)
        # fg_long & fg_short (something moves over it): the age holds.
        self.fg_long, self.fg_short = fg_long, fg_short
        return True

    def _step(self, small: Float, dt: float) -> tuple[Mask, Mask]:
        """Both foreground masks for this frame, then both backgrounds learn from it: the
        long-term one only where it saw background (selective update)."""
        assert self.long is not None and self.short is not None
        cfg = self.config
        fg_long = _distance(small, self.long) > cfg.threshold
        fg_short = _distance(small, self.short) > cfg.threshold
        a_long = 1.0 - math.exp(-dt / cfg.long_tau_s)
        a_short = 1.0 - math.exp(-dt / cfg.short_tau_s)
        empty = ~fg_long
        self.long[empty] += a_long * (small[empty] - self.long[empty])
        self.short += a_short * (small - self.short)
        return fg_long, fg_short

    def static_mask(self) -> Mask:
        """Pixels that have stood still, new, for ``config.static_s`` at least."""
        if self.age is None or not self.ready:
            return np.zeros((1, 1), bool)
        return self.age >= max(self.config.static_s, 1e-6)

    def heal(self, box: WorkBox, mask: Mask | None = None) -> None:
        """Learn what is now at ``box`` (within ``mask`` if given) into the long-term model."""
        if self.long is None or self.current is None or self.age is None:
            return
        x1, y1, x2, y2 = box
        region = np.zeros(self.age.shape, bool)
        if mask is None:
            region[y1:y2, x1:x2] = True
        else:
            region[y1:y2, x1:x2] = mask
        self.long[region] = self.current[region]
        self.age[region] = 0.0

    def patch(self, which: str, box: WorkBox) -> Float:
        """A copy of the ``long`` or ``current`` picture inside ``box``."""
        source = self.long if which == "long" else self.current
        assert source is not None
        x1, y1, x2, y2 = box
        return source[y1:y2, x1:x2].copy()

    def to_work(self, box: tuple[float, float, float, float], pad: float = 0.0) -> WorkBox:
        """An analysis-pixel box in work pixels, grown by ``pad`` × its size, clipped."""
        assert self.current is not None
        h, w = self.current.shape[:2]
        x1, y1, x2, y2 = (v / self.scale for v in box)
        dx, dy = (x2 - x1) * pad, (y2 - y1) * pad
        return (
            max(0, math.floor(x1 - dx)),
            max(0, math.floor(y1 - dy)),
            min(w, math.ceil(x2 + dx)),
            min(h, math.ceil(y2 + dy)),
        )

    def to_image(self, box: WorkBox) -> tuple[float, float, float, float]:
        """A work-pixel box in analysis pixels."""
        s = self.scale
        return (box[0] * s, box[1] * s, box[2] * s, box[3] * s)

    def _restart(self, t: float, small: Float) -> None:
        self.long = small.copy()
        self.short = small.copy()
        self.age = np.zeros(small.shape[:2], np.float32)
        self.fg_long = np.zeros(small.shape[:2], bool)
        self.fg_short = np.zeros(small.shape[:2], bool)
        self._t = t
        self._stack = [small]
        self._relearn_votes = 0

    def nbytes(self) -> int:
        """Memory held for this camera (both backgrounds, the current copy, ages)."""
        floats = (self.long, self.short, self.current, self.age, *self._stack)
        masks = (self.fg_long, self.fg_short)
        return sum(a.nbytes for a in floats if a is not None) + sum(
            m.nbytes for m in masks if m is not None
        )


def _distance(a: Float, b: Float) -> Float:
    """Per pixel, the largest change over the three colour channels."""
    return np.abs(a - b).max(axis=2)


class Mog2Background(DualBackground):
    """OpenCV's MOG2 in the same two roles, kept for comparison (``static.background:
    mog2``): a slow mixture model for the long term, a fast one for the short term.

    MOG2 learns every pixel at its learning rate and cannot be told what the background
    is, so an object that stays is learnt in after a while and a ghost cannot be healed:
    the measured difference is in the README.
    """

    def _restart(self, t: float, small: Float) -> None:
        super()._restart(t, small)
        self.slow = cv2.createBackgroundSubtractorMOG2(
            history=500, varThreshold=16, detectShadows=False
        )
        self.fast = cv2.createBackgroundSubtractorMOG2(
            history=50, varThreshold=16, detectShadows=False
        )
        frame = np.clip(small, 0, 255).astype(np.uint8)
        self.slow.apply(frame, learningRate=1.0)
        self.fast.apply(frame, learningRate=1.0)

    def _step(self, small: Float, dt: float) -> tuple[Mask, Mask]:
        cfg = self.config
        frame = np.clip(small, 0, 255).astype(np.uint8)
        fg_long = self.slow.apply(frame, learningRate=min(1.0, dt / cfg.long_tau_s)) > 0
        fg_short = self.fast.apply(frame, learningRate=min(1.0, dt / cfg.short_tau_s)) > 0
        self.long = np.asarray(self.slow.getBackgroundImage(), np.float32)
        return np.asarray(fg_long, bool), np.asarray(fg_short, bool)

    def heal(self, box: WorkBox, mask: Mask | None = None) -> None:
        """MOG2 cannot be told the background: only the ages are reset."""
        if self.age is None:
            return
        x1, y1, x2, y2 = box
        self.age[y1:y2, x1:x2] = 0.0


def make_background(config: StaticConfig) -> DualBackground:
    """The background model ``config.background`` names."""
    return Mog2Background(config) if config.background == "mog2" else DualBackground(config)
