"""Zones: polygons in normalized image coordinates, each with the purpose rules key on.

A zone is drawn on a camera's picture (0..1 on both axes, origin top-left) and says
what the place is for, e.g. a pavement where vending is not allowed. Rules name the
purposes they apply to; a camera without zones is analysed over the whole frame.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from gridwatch.sections import repeated


class ZonePurpose(StrEnum):
    """What a zone is for; rules select zones by purpose."""

    NO_DUMPING = "no_dumping"  # pavements, corners, river banks: dumping, exposed garbage
    BIN_AREA = "bin_area"  # around refuse bins: overflowing bins, exposed garbage
    NO_VENDING = "no_vending"  # pavements and squares where street vending is not allowed
    SHOPFRONT = "shopfront"  # in front of shops: business outside the shopfront
    NO_PARKING = "no_parking"  # kerbs, fire lanes: illegal parking
    BIKE_PARKING = "bike_parking"  # where bicycles pile up: disorderly bicycle parking
    IGNORE = "ignore"  # masked out: a busy road, a screen, trees moving in the wind


_KEYS = frozenset({"id", "purpose", "polygon", "dwell_s"})
MAX_DWELL_S = 7 * 86_400
_PURPOSES = {p.value: p for p in ZonePurpose}  # a dict lookup is 5x cheaper than ZonePurpose()


class ZoneError(ValueError):
    """A zone definition is malformed; the message says which zone and why."""


@dataclass(frozen=True)
class Zone:
    """A polygon on the image with a purpose. Points are (x, y) in 0..1."""

    id: str
    purpose: ZonePurpose
    polygon: tuple[tuple[float, float], ...]
    dwell_s: float | None = None  # this zone's own dwell (e.g. a no-stopping kerb: 60 s)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "purpose": self.purpose.value,
            "polygon": [list(p) for p in self.polygon],
        }
        if self.dwell_s is not None:
            out["dwell_s"] = self.dwell_s
        return out


def _parse_point(raw: Any, where: str) -> tuple[float, float]:
    # The common case first: a JSON [x, y] of two numbers inside the image. Anything
    # else takes the careful path below, which also words the error.
    if type(raw) is list and len(raw) == 2:
        x, y = raw
        if type(x) in _NUMBER and type(y) in _NUMBER and 0 <= x <= 1 and 0 <= y <= 1:
            return float(x), float(y)
    return _parse_point_checked(raw, where)


_NUMBER = (float, int)  # exact types: bool is an int subclass, and never a coordinate


def _parse_point_checked(raw: Any, where: str) -> tuple[float, float]:
    if (
        not isinstance(raw, list | tuple)
        or len(raw) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in raw)
    ):
        raise ZoneError(f"{where}: a point must be [x, y] with two numbers, got {raw!r}")
    x, y = float(raw[0]), float(raw[1])
    if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
        raise ZoneError(f"{where}: point {raw!r} is outside the image (x and y must be in 0..1)")
    return x, y


def _parse_zone(raw: Any, index: int) -> Zone:
    where = f"zone {index + 1}"
    if not isinstance(raw, dict):
        raise ZoneError(f"{where}: expected an object with purpose and polygon, got {raw!r}")
    unknown = set() if raw.keys() <= _KEYS else set(raw) - _KEYS
    if unknown:
        raise ZoneError(
            f"{where}: unknown keys {sorted(unknown)} (allowed: id, purpose, polygon, dwell_s)"
        )
    zone_id = str(raw.get("id") or f"z{index + 1}")
    where = f"zone {zone_id!r}"
    try:
        purpose = _PURPOSES.get(str(raw.get("purpose"))) or ZonePurpose(str(raw.get("purpose")))
    except ValueError:
        allowed = ", ".join(p.value for p in ZonePurpose)
        raise ZoneError(
            f"{where}: purpose {raw.get('purpose')!r} is not one of: {allowed}"
        ) from None
    points = raw.get("polygon")
    if not isinstance(points, list) or len(points) < 3:
        raise ZoneError(f"{where}: polygon needs at least 3 points")
    polygon = tuple(_parse_point(p, where) for p in points)
    _check_simple(polygon, where)
    return Zone(zone_id, purpose, polygon, _parse_dwell(raw.get("dwell_s"), where))


def _parse_dwell(raw: Any, where: str) -> float | None:
    if raw is None:
        return None
    if type(raw) not in _NUMBER or not 0 <= raw <= MAX_DWELL_S:
        raise ZoneError(f"{where}: dwell_s must be a number of seconds in 0..{MAX_DWELL_S}")
    return float(raw)


def _orient(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]) -> float:
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def _segments_touch(
    p1: tuple[float, float],
    p2: tuple[float, float],
    q1: tuple[float, float],
    q2: tuple[float, float],
) -> bool:
    """Whether two closed segments share a point (collinear overlaps included)."""
    # _orient(q1, q2, p1), _orient(q1, q2, p2), _orient(p1, p2, q1), _orient(p1, p2, q2),
    # written out (same arithmetic, same order): this runs for every zone of every row.
    (ax, ay), (bx, by), (cx, cy), (dx, dy) = p1, p2, q1, q2
    d1 = (dx - cx) * (ay - cy) - (dy - cy) * (ax - cx)
    d2 = (dx - cx) * (by - cy) - (dy - cy) * (bx - cx)
    d3 = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
    d4 = (bx - ax) * (dy - ay) - (by - ay) * (dx - ax)
    if ((d1 > 0) != (d2 > 0)) and ((d3 > 0) != (d4 > 0)) and 0 not in (d1, d2, d3, d4):
        return True
    return (
        (d1 == 0 and _on(q1, q2, p1))
        or (d2 == 0 and _on(q1, q2, p2))
        or (d3 == 0 and _on(p1, p2, q1))
        or (d4 == 0 and _on(p1, p2, q2))
    )


def _on(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]) -> bool:
    """Whether ``c`` (collinear with a-b) lies within the segment's bounding box."""
    return min(a[0], b[0]) <= c[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= c[1] <= max(a[1], b[1])


def is_simple(polygon: tuple[tuple[float, float], ...]) -> bool:
    """True when no two non-adjacent edges of the ring touch (no self-intersection).

    Zones have a handful of points, so the O(n²) test is far cheaper than building a
    shapely geometry per row (it matters at 200,000 cameras).
    """
    n = len(polygon)
    if len(set(polygon)) != n:
        return False
    for i in range(n - 2):
        p1, p2 = polygon[i], polygon[i + 1]
        # j from i + 2: neighbours share a vertex by construction (so do the last and first)
        for j in range(i + 2, n - 1 if i == 0 else n):
            if _segments_touch(p1, p2, polygon[j], polygon[(j + 1) % n]):
                return False
    return True


def _area(polygon: tuple[tuple[float, float], ...]) -> float:
    n = len(polygon)
    return (
        abs(
            sum(
                polygon[i][0] * polygon[(i + 1) % n][1] - polygon[(i + 1) % n][0] * polygon[i][1]
                for i in range(n)
            )
        )
        / 2
    )


def _check_simple(polygon: tuple[tuple[float, float], ...], where: str) -> None:
    if not is_simple(polygon):
        from shapely.geometry import Polygon
        from shapely.validation import explain_validity

        detail = explain_validity(Polygon(polygon))
        raise ZoneError(f"{where}: polygon is not valid ({detail})")
    if _area(polygon) <= 1e-6:
        raise ZoneError(f"{where}: polygon has no area")


def parse_zones(text: str) -> list[Zone]:
    """Parse the ``zones`` column: a JSON list of ``{"id", "purpose", "polygon"}``.

    An empty cell means no zones (rules then apply to the whole frame).

    >>> parse_zones('[{"purpose": "no_parking", "polygon": [[0,0.5],[1,0.5],[1,1],[0,1]]}]')[0].id
    'z1'
    """
    text = text.strip()
    if not text:
        return []
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ZoneError(f"not valid JSON ({exc.msg} at character {exc.pos + 1})") from None
    if not isinstance(data, list):
        raise ZoneError("expected a JSON list of zones")
    zones = [_parse_zone(raw, i) for i, raw in enumerate(data)]
    dupes = repeated(z.id for z in zones)
    if dupes:
        raise ZoneError(f"zone ids must be unique, repeated: {dupes}")
    return zones


def dump_zones(zones: list[Zone]) -> str:
    """The ``zones`` cell for a list of zones (compact JSON).

    Written out by hand: byte for byte what ``json.dumps([z.to_dict() ...],
    separators=(",", ":"))`` gives (fingerprints hash it), at a third of the cost.
    Coordinates are finite floats (parse_zones checks them), which JSON writes as repr.
    """
    if not zones:
        return ""
    return "[" + ",".join(_dump_zone(z) for z in zones) + "]"


def _dump_zone(zone: Zone) -> str:
    points = ",".join(f"[{x!r},{y!r}]" for x, y in zone.polygon)
    purpose = _json_string(zone.purpose.value)
    dwell = "" if zone.dwell_s is None else f',"dwell_s":{zone.dwell_s!r}'
    return f'{{"id":{_json_string(zone.id)},"purpose":{purpose},"polygon":[{points}]{dwell}}}'


_json_string = json.encoder.encode_basestring_ascii
