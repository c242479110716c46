"""From a mask of stopped pixels to regions, one per object, and whether each is new.

:func:`regions` closes small gaps, takes connected components within the size bounds
and with a body (lines such as wires or barrier tape are no objects), and joins
fragments that lie close together (one dumped pile often shows as several blobs: a bag,
its shadow, a box beside it). :func:`is_ghost` is the ghost test: a
region where something new stands has edges on its outline that the background lacks;
a region where something has gone (a person who stood there while the background was
learnt, a car that drove off) has the background's edges missing; :func:`light_change`
tells a shadow or a reflection, which only changes the brightness.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge_agent.static.background import Float, Mask, WorkBox

EDGE = 24.0  # gradient magnitude that counts as an edge (grey levels per pixel)
LIGHT_TEXTURE = 0.02  # a light change: the picture/background ratio this smooth (mean)
LIGHT_EDGES = 0.03  # ... and fewer new edges than this share of the outline
THIN_CORE = 0.15  # a region keeping less than this share when eroded by a pixel is a line


@dataclass(frozen=True)
class Region:
    """Stopped pixels that belong together: their box (work pixels) and mask in it."""

    box: WorkBox
    mask: Mask  # shape (y2 - y1, x2 - x1)
    area: int

    def diagonal(self) -> float:
        x1, y1, x2, y2 = self.box
        return float(np.hypot(x2 - x1, y2 - y1))


def regions(static: Mask, min_area: float, max_area: float, merge_gap: float) -> list[Region]:
    """The regions of a static mask whose area share lies within the bounds."""
    if not static.any():
        return []
    raw = cv2.morphologyEx(static.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(raw, connectivity=8)
    total = float(static.size)
    parts = [
        (int(x), int(y), int(x + w), int(y + h), i)
        for i, (x, y, w, h, count) in enumerate(stats[1:n], start=1)
        if count >= 4 and count / total <= max_area
    ]
    groups = _merge([p[:4] for p in parts], merge_gap)
    out = []
    for members in groups:
        x1 = min(parts[i][0] for i in members)
        y1 = min(parts[i][1] for i in members)
        x2 = max(parts[i][2] for i in members)
        y2 = max(parts[i][3] for i in members)
        ids = [parts[i][4] for i in members]
        mask = np.isin(labels[y1:y2, x1:x2], ids)
        area = int(mask.sum())
        if min_area <= area / total <= max_area and not _thin(mask, area):
            out.append(Region((x1, y1, x2, y2), mask, area))
    return out


def _thin(mask: Mask, area: int) -> bool:
    """Lines, not things: a wire, barrier tape in the wind, the edge of a swaying sign
    keep almost nothing of themselves when eroded by one pixel; a bag keeps its core."""
    core = cv2.erode(np.pad(mask.astype(np.uint8), 1), np.ones((3, 3), np.uint8))
    return int(core.sum()) < THIN_CORE * area


def _merge(boxes: list[WorkBox], gap: float) -> list[list[int]]:
    """Groups of box indices, joined when the gap between two boxes is below ``gap`` times
    the smaller one's diagonal (union-find; a handful of boxes per frame)."""
    parent = list(range(len(boxes)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(boxes):
        for j in range(i + 1, len(boxes)):
            b = boxes[j]
            size = min(np.hypot(a[2] - a[0], a[3] - a[1]), np.hypot(b[2] - b[0], b[3] - b[1]))
            dx = max(0, max(a[0], b[0]) - min(a[2], b[2]))
            dy = max(0, max(a[1], b[1]) - min(a[3], b[3]))
            if np.hypot(dx, dy) <= gap * size:
                parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(boxes)):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


def _grey_gradient(patch: Float) -> Float:
    grey = _grey(patch)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    return np.asarray(cv2.magnitude(gx, gy), np.float32) / 4.0


def outline_edges(current: Float, background: Float, region: Region) -> tuple[float, float]:
    """On the region's outline: the share of pixels with an edge now that the background
    lacks ("appeared"), and with a background edge that is gone ("vanished")."""
    x1, y1, x2, y2 = region.box
    h, w = current.shape[:2]
    pad = 2
    X1, Y1, X2, Y2 = max(0, x1 - pad), max(0, y1 - pad), min(w, x2 + pad), min(h, y2 + pad)
    mask = np.zeros((Y2 - Y1, X2 - X1), np.uint8)
    mask[y1 - Y1 : y2 - Y1, x1 - X1 : x2 - X1] = region.mask
    kernel = np.ones((3, 3), np.uint8)
    band = (cv2.dilate(mask, kernel) > 0) & ~(cv2.erode(mask, kernel) > 0)
    if not band.any():
        return 0.0, 0.0
    now = _grey_gradient(current[Y1:Y2, X1:X2])
    before = _grey_gradient(background[Y1:Y2, X1:X2])
    appeared = (now > before + EDGE) & (now > EDGE)
    vanished = (before > now + EDGE) & (before > EDGE)
    return float(appeared[band].mean()), float(vanished[band].mean())


def is_ghost(current: Float, background: Float, region: Region, margin: float) -> bool:
    """Something has gone from here rather than arrived: the background's edges on the
    outline vanished, more than new ones appeared. A dark bag on dark paving shows few
    edges either way, and is no ghost."""
    appeared, vanished = outline_edges(current, background, region)
    return vanished >= appeared + margin


def light_change(current: Float, background: Float, region: Region) -> bool:
    """The region is the background under other light (a cloud, a reflection, a lamp
    coming on): the ratio of the picture to the background varies only smoothly over it
    (an object changes it with the texture it hides), and its outline has no new edge (a
    dark bag on plain paving also changes the brightness smoothly, but it has an
    outline)."""
    x1, y1, x2, y2 = region.box
    now = _grey(current[y1:y2, x1:x2])
    before = _grey(background[y1:y2, x1:x2])
    ratio = (now + 8.0) / (before + 8.0)
    rough = np.abs(ratio - cv2.GaussianBlur(ratio, (0, 0), 2.0))[region.mask].mean()
    if rough >= LIGHT_TEXTURE:
        return False
    appeared, _ = outline_edges(current, background, region)
    return appeared < LIGHT_EDGES


def _grey(patch: Float) -> Float:
    grey = cv2.cvtColor(np.clip(patch, 0, 255).astype(np.uint8), cv2.COLOR_BGR2GRAY)
    return np.asarray(grey, np.float32)


def box_iou(a: WorkBox, b: WorkBox) -> float:
    """IoU of two work-pixel boxes."""
    inter = _inter(a, b)
    union = _area(a) + _area(b) - inter
    return inter / union if union > 0 else 0.0


def coverage(a: WorkBox, b: WorkBox) -> float:
    """The share of box ``a`` that box ``b`` covers."""
    return _inter(a, b) / _area(a) if _area(a) > 0 else 0.0


def _inter(a: WorkBox, b: WorkBox) -> int:
    return max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))


def _area(a: WorkBox) -> int:
    return max(0, a[2] - a[0]) * max(0, a[3] - a[1])
