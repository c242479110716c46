"""Zones as small objects whose ``trigger(detections)`` returns a boolean mask.

Like supervision's ``PolygonZone``: a box is in the zone when its anchor (foot point
by default) lies inside the polygon. A camera without zones is analysed over the whole
frame (:data:`WHOLE_FRAME`); detections anchored in ``ignore`` zones are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import Polygon, box

from edge_agent.detections import BoolArray, Detections
from edge_agent.rules.config import Anchor, RuleSpec
from gridwatch.registry.zones import Zone, ZonePurpose


@dataclass(frozen=True)
class PolygonZone:
    """A zone polygon (normalized 0..1) that tests detections given in pixels."""

    id: str | None
    purpose: ZonePurpose | None
    polygon: tuple[tuple[float, float], ...] | None  # None: the whole frame
    dwell_s: float | None = None  # the zone's own dwell, else the rule's

    @classmethod
    def of(cls, zone: Zone) -> PolygonZone:
        return cls(zone.id, zone.purpose, zone.polygon, zone.dwell_s)

    def trigger(
        self, detections: Detections, size: tuple[int, int], anchor: Anchor = Anchor.BOTTOM_CENTER
    ) -> BoolArray:
        """Which rows of ``detections`` (pixels on a ``size`` = (w, h) image) are inside."""
        if self.polygon is None or not len(detections):
            return np.ones(len(detections), dtype=bool)
        w, h = size
        norm = detections.normalized(w, h)
        shape = Polygon(self.polygon)
        if anchor is Anchor.OVERLAP:
            inside = [
                shape.intersection(box(*b)).area >= 0.5 * max(box(*b).area, 1e-12) for b in norm
            ]
            return np.array(inside, dtype=bool)
        xs = (norm[:, 0] + norm[:, 2]) / 2
        ys = norm[:, 3] if anchor is Anchor.BOTTOM_CENTER else (norm[:, 1] + norm[:, 3]) / 2
        # Foot points on the frame edge count as inside a zone that touches the edge.
        ys = np.minimum(ys, 1.0 - 1e-6)
        return np.asarray(shapely.intersects_xy(shape, xs, ys), dtype=bool)


WHOLE_FRAME = PolygonZone(None, None, None)


def zones_for(rule: RuleSpec, zones: list[Zone]) -> list[PolygonZone]:
    """The zones a rule watches on a camera: those of its purposes, or the whole frame.

    A camera with zones but none of the rule's purposes gets no zones: the rule is off.
    A camera without zones gives every ``whole_frame`` rule the whole frame.
    """
    usable = [z for z in zones if z.purpose is not ZonePurpose.IGNORE]
    if not usable:
        return [WHOLE_FRAME] if rule.whole_frame else []
    return [PolygonZone.of(z) for z in usable if z.purpose in rule.zones]


def outside_ignored(detections: Detections, zones: list[Zone], size: tuple[int, int]) -> BoolArray:
    """Which rows of ``detections`` have their foot point outside every ``ignore`` zone."""
    keep = np.ones(len(detections), dtype=bool)
    for zone in zones:
        if zone.purpose is ZonePurpose.IGNORE:
            keep &= ~PolygonZone.of(zone).trigger(detections, size)
    return keep


def drop_ignored(detections: Detections, zones: list[Zone], size: tuple[int, int]) -> Detections:
    """Detections whose foot point is outside every ``ignore`` zone."""
    return detections[outside_ignored(detections, zones, size)]
