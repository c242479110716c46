"""Check a grid GeoJSON: codes, hierarchy and the tiling that case routing relies on.

A problem found anywhere must land in exactly one grid, so a grid file is only usable
when grids cover the district without gaps or overlaps and every unit sits inside its
parent. :func:`check_grid` finds every violation at once (it never stops at the first)
and reports each with the unit's code, a short slug and a message with areas in m² and,
for gaps, a lon/lat to look at. Slivers smaller than ``min_area_m2`` are ignored: they
are rounding noise, not holes a case could fall into.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from gridwatch.grid.model import (
    CODE_LENGTH,
    PARENT_LEVEL,
    GridFormatError,
    Level,
    Unit,
    areas_m2,
    features_of,
    parse_feature,
)

#: Default size below which overlaps, gaps and spill-overs are ignored.
MIN_AREA_M2 = 1.0


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a grid file.

    ``kind`` is a short slug (duplicate_code, missing_parent, wrong_parent_level,
    bad_code, bad_feature, invalid_polygon, overlap, outside_parent, gap).
    """

    code: str | None
    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.code or '-'}: {self.kind}: {self.message}"


@dataclass
class GridReport:
    """Units per level and every problem found."""

    counts: dict[Level, int] = field(default_factory=lambda: dict.fromkeys(Level, 0))
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_grid(data: Any, min_area_m2: float = MIN_AREA_M2) -> GridReport:
    """Check a parsed grid GeoJSON and return counts and all problems (empty when fine).

    Example::

        report = check_grid(json.loads(Path("configs/grid/songjiang.geojson").read_text()))
        assert report.ok, "\\n".join(map(str, report.problems))
    """
    report = GridReport()
    try:
        features = features_of(data)
    except GridFormatError as exc:
        report.problems.append(Problem(None, "bad_feature", str(exc)))
        return report
    units: list[Unit] = []
    for position, feature in enumerate(features):
        try:
            units.append(parse_feature(feature, position))
        except GridFormatError as exc:
            report.problems.append(Problem(None, "bad_feature", str(exc)))
    for unit in units:
        report.counts[unit.level] += 1
    by_code = _unique_units(units, report.problems)
    _check_hierarchy(by_code, report.problems)
    usable = _check_polygons(by_code, report.problems)
    _check_overlaps(usable, report.problems, min_area_m2)
    _check_inside_parents(usable, report.problems, min_area_m2)
    _check_gaps(usable, report.problems, min_area_m2)
    return report


def _unique_units(units: list[Unit], problems: list[Problem]) -> dict[str, Unit]:
    """Units by code; a code used twice is a problem and only its first unit is kept."""
    seen = Counter(u.code for u in units)
    for code, n in sorted(seen.items()):
        if n > 1:
            problems.append(Problem(code, "duplicate_code", f"code is used by {n} features"))
    by_code: dict[str, Unit] = {}
    for unit in units:
        by_code.setdefault(unit.code, unit)
    return by_code


def _check_hierarchy(by_code: dict[str, Unit], problems: list[Problem]) -> None:
    """Parents exist one level up, and codes follow the 6/9/12/14-digit scheme."""
    for unit in by_code.values():
        expected = PARENT_LEVEL[unit.level]
        parent = by_code.get(unit.parent) if unit.parent else None
        if expected is None and unit.parent is not None:
            problems.append(
                Problem(
                    unit.code, "wrong_parent_level", f"a district has no parent, got {unit.parent}"
                )
            )
        elif expected is not None and parent is None:
            problems.append(
                Problem(unit.code, "missing_parent", f"parent {unit.parent!r} is not in the file")
            )
        elif parent is not None and parent.level != expected:
            problems.append(
                Problem(
                    unit.code,
                    "wrong_parent_level",
                    f"parent {parent.code} is a {parent.level}, a {unit.level} needs a {expected}",
                )
            )
        _check_code(unit, parent, problems)


def _check_code(unit: Unit, parent: Unit | None, problems: list[Problem]) -> None:
    length = CODE_LENGTH[unit.level]
    if not re.fullmatch(rf"\d{{{length}}}", unit.code):
        problems.append(
            Problem(unit.code, "bad_code", f"a {unit.level} code must be {length} digits")
        )
    elif parent is not None and not unit.code.startswith(parent.code):
        problems.append(
            Problem(unit.code, "bad_code", f"code does not start with its parent's {parent.code}")
        )


def _check_polygons(by_code: dict[str, Unit], problems: list[Problem]) -> dict[str, Unit]:
    """Report invalid or empty polygons; return the units fit for area checks."""
    usable: dict[str, Unit] = {}
    for code, unit in by_code.items():
        if unit.geometry.is_empty:
            problems.append(Problem(code, "invalid_polygon", "geometry is empty"))
        elif not unit.geometry.is_valid:
            reason = explain_validity(unit.geometry)
            problems.append(Problem(code, "invalid_polygon", f"invalid polygon: {reason}"))
        else:
            usable[code] = unit
    return usable


def _level_units(units: dict[str, Unit], level: Level) -> list[Unit]:
    return [u for u in units.values() if u.level == level]


def _check_overlaps(units: dict[str, Unit], problems: list[Problem], min_area: float) -> None:
    """Pairs of same-level units whose interiors overlap by more than ``min_area``."""
    for level in Level:
        same = _level_units(units, level)
        if len(same) < 2:
            continue
        geoms = np.array([u.geometry for u in same], dtype=object)
        left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
        pairs = left < right
        left, right = left[pairs], right[pairs]
        areas = areas_m2(shapely.intersection(geoms[left], geoms[right]))
        for i, j, area in zip(left, right, areas, strict=True):
            if area >= min_area:
                a, b = same[i], same[j]
                problems.append(
                    Problem(a.code, "overlap", f"overlaps {level} {b.code} by {_m2(area)}")
                )


def _check_inside_parents(units: dict[str, Unit], problems: list[Problem], min_area: float) -> None:
    """Units reaching outside their parent by more than ``min_area``."""
    pairs = [(u, units[u.parent]) for u in units.values() if u.parent in units]
    if not pairs:
        return
    outside = shapely.difference(
        np.array([c.geometry for c, _ in pairs], dtype=object),
        np.array([p.geometry for _, p in pairs], dtype=object),
    )
    for (child, parent), area in zip(pairs, areas_m2(outside), strict=True):
        if area >= min_area:
            problems.append(
                Problem(
                    child.code, "outside_parent", f"{_m2(area)} lie outside parent {parent.code}"
                )
            )


def _gap_problem(
    code: str, covered: BaseGeometry, cover: list[BaseGeometry], what: str, min_area: float
) -> Problem | None:
    """A gap problem when ``cover`` leaves more than ``min_area`` of ``covered`` uncovered."""
    union = shapely.union_all(cover) if cover else shapely.Polygon()
    pieces = shapely.get_parts(shapely.difference(covered, union))
    pieces = pieces[shapely.area(pieces) > 0] if len(pieces) else pieces
    areas = areas_m2(pieces)
    big = areas >= min_area
    if not big.any():
        return None
    largest = pieces[big][int(np.argmax(areas[big]))]
    spot = shapely.point_on_surface(largest)
    return Problem(
        code,
        "gap",
        f"{_m2(areas[big].sum())} not covered by {what} "
        f"({int(big.sum())} piece(s); e.g. at lon {spot.x:.6f}, lat {spot.y:.6f})",
    )


def _check_gaps(units: dict[str, Unit], problems: list[Problem], min_area: float) -> None:
    """Areas of a parent that none of its children cover; and grids against the district."""
    children: dict[str, list[BaseGeometry]] = defaultdict(list)
    for unit in units.values():
        if unit.parent in units:
            children[unit.parent].append(unit.geometry)
    for unit in units.values():
        if unit.level == Level.GRID:
            continue
        what = f"its {_child_level(unit.level)} units"
        gap = _gap_problem(unit.code, unit.geometry, children.get(unit.code, []), what, min_area)
        if gap:
            problems.append(gap)
    grids = [u.geometry for u in _level_units(units, Level.GRID)]
    for district in _level_units(units, Level.DISTRICT):
        gap = _gap_problem(district.code, district.geometry, grids, "any grid", min_area)
        if gap:
            problems.append(gap)


def _m2(area: float) -> str:
    """An area for a message: "1234.5 m²", or 3 significant digits when tiny."""
    return f"{area:.1f} m²" if area >= 1 else f"{area:.3g} m²"


def _child_level(level: Level) -> Level:
    return next(child for child, parent in PARENT_LEVEL.items() if parent == level)
