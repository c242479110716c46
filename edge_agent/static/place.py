"""Verification you can trust: has the place gone back to how it looked before?

When an incident opens, :class:`PlaceCheck` keeps two patches of its place: the
long-term background there ("before": the place without the object) and the current
picture ("after": with the object), with some context around. The object's pixels are
those where the two differ. Later, each sample is compared with both on those pixels,
after a gain correction taken from the context (the sun came out): the place is
RESTORED when it looks like "before" again and no longer like "after", PRESENT while it
still looks like "after", and CHANGED otherwise (something stands in front of it, or
the light changed too much to tell). Only RESTORED may end an incident: a blob fading
into the background never does.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import cv2
import numpy as np

from edge_agent.static.background import DualBackground, Float, Mask, WorkBox

CONTEXT = 0.5  # patches reach this share of the box's size beyond it on each side
RESTORED_AT = 0.25  # at most this share of the object's pixels still differ from "before"
PRESENT_AT = 0.5  # at most this share differs from "after": still there


class PlaceState(StrEnum):
    RESTORED = "restored"
    PRESENT = "present"
    CHANGED = "changed"
    UNKNOWN = "unknown"  # the object did not differ from its background: cannot tell


@dataclass
class PlaceCheck:
    """The before and after of one incident's place (work pixels)."""

    box: WorkBox
    before: Float
    after: Float
    object_mask: Mask
    threshold: float

    @classmethod
    def capture(
        cls, background: DualBackground, box: tuple[float, float, float, float]
    ) -> PlaceCheck:
        """Take the patches for an analysis-pixel ``box`` from a ready background."""
        work = background.to_work(box, CONTEXT)
        before = background.patch("long", work)
        after = background.patch("current", work)
        threshold = float(background.config.threshold)
        mask = _distance(before, after) > threshold
        return cls(work, before, after, mask, threshold)

    @property
    def usable(self) -> bool:
        """Whether the object stood out from its background enough to verify its going."""
        return int(self.object_mask.sum()) >= 6

    def state(self, background: DualBackground) -> PlaceState:
        """How the place looks in the background's current picture."""
        if not self.usable or background.current is None:
            return PlaceState.UNKNOWN
        now = background.patch("current", self.box)
        if now.shape != self.before.shape:
            return PlaceState.UNKNOWN
        grown = cv2.dilate(self.object_mask.astype(np.uint8), np.ones((5, 5), np.uint8))
        context = np.asarray(grown, np.uint8) == 0
        now_n = now / _gain(now, self.before, context)
        after_n = self.after / _gain(self.after, self.before, context)
        mask = self.object_mask
        from_before = float((_distance(now_n, self.before) > self.threshold)[mask].mean())
        from_after = float((_distance(now_n, after_n) > self.threshold)[mask].mean())
        if from_before <= RESTORED_AT and from_after > PRESENT_AT:
            return PlaceState.RESTORED
        if from_after <= PRESENT_AT:
            return PlaceState.PRESENT
        return PlaceState.CHANGED

    def crops(self) -> tuple[Float, Float]:
        """The before and after patches (for the END event's evidence)."""
        return self.before, self.after

    def nbytes(self) -> int:
        return self.before.nbytes + self.after.nbytes + self.object_mask.nbytes


def _gain(patch: Float, reference: Float, context: Mask) -> Float:
    """Per channel, how much brighter ``patch`` is than ``reference`` around the object."""
    if context.sum() < 8:
        return np.ones(3, np.float32)
    ratio = (np.median(patch[context], axis=0) + 1.0) / (
        np.median(reference[context], axis=0) + 1.0
    )
    return np.clip(ratio, 0.5, 2.0).astype(np.float32)


def _distance(a: Float, b: Float) -> Float:
    return np.abs(a - b).max(axis=2)
