"""check_grid on a small hand-made grid: clean, then with each kind of injected problem."""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable
from typing import Any

import pytest

from gridwatch.grid.check import check_grid
from gridwatch.grid.model import M_PER_DEG_LAT, M_PER_DEG_LON, GridFormatError, GridIndex, Level

# A 0.02° square district: two streets (west/east halves), one community each, and two
# grids per community (south/north halves).
X0, Y0, D = 121.0, 31.0, 0.02
Feature = dict[str, Any]


def box(x1: float, y1: float, x2: float, y2: float) -> list[list[list[float]]]:
    return [[[x1, y1], [x2, y1], [x2, y2], [x1, y2], [x1, y1]]]


def feature(code: str, level: str, parent: str | None, coords: Any) -> Feature:
    return {
        "type": "Feature",
        "properties": {
            "code": code,
            "name": f"u{code}",
            "level": level,
            "parent": parent,
            "kind": None,
        },
        "geometry": {"type": "Polygon", "coordinates": coords},
    }


def small_grid() -> dict[str, Any]:
    h = D / 2
    features = [feature("310117", "district", None, box(X0, Y0, X0 + D, Y0 + D))]
    for s, x1, x2 in (("001", X0, X0 + h), ("002", X0 + h, X0 + D)):
        street, community = f"310117{s}", f"310117{s}001"
        features.append(feature(street, "street", "310117", box(x1, Y0, x2, Y0 + D)))
        features.append(feature(community, "community", street, box(x1, Y0, x2, Y0 + D)))
        features.append(feature(f"{community}01", "grid", community, box(x1, Y0, x2, Y0 + h)))
        features.append(feature(f"{community}02", "grid", community, box(x1, Y0 + h, x2, Y0 + D)))
    return {"type": "FeatureCollection", "features": features}


def m2(deg2: float) -> float:
    """Square degrees near this grid in m², as the checker computes them."""
    return deg2 * M_PER_DEG_LON * math.cos(math.radians(Y0 + D / 2)) * M_PER_DEG_LAT


def unit(data: dict[str, Any], code: str) -> Feature:
    return next(f for f in data["features"] if f["properties"]["code"] == code)


GRID_A = "31011700100101"  # south-west grid
GRID_B = "31011700100102"  # north-west grid


def duplicate(data: dict[str, Any]) -> None:
    data["features"].append(copy.deepcopy(unit(data, GRID_A)))


def missing_parent(data: dict[str, Any]) -> None:
    unit(data, GRID_A)["properties"]["parent"] = "310117001999"


def wrong_parent_level(data: dict[str, Any]) -> None:
    unit(data, GRID_A)["properties"]["parent"] = "310117001"


def short_code(data: dict[str, Any]) -> None:
    unit(data, GRID_B)["properties"]["code"] = "3101170010010"


def foreign_prefix(data: dict[str, Any]) -> None:
    unit(data, GRID_B)["properties"]["code"] = "31011700200103"


def bowtie(data: dict[str, Any]) -> None:
    h = D / 2
    unit(data, GRID_A)["geometry"]["coordinates"] = [
        [[X0, Y0], [X0 + h, Y0 + h], [X0 + h, Y0], [X0, Y0 + h], [X0, Y0]]
    ]


def overlap(data: dict[str, Any]) -> None:
    # The south-west grid reaches 0.001° into its northern neighbour.
    unit(data, GRID_A)["geometry"]["coordinates"] = box(X0, Y0, X0 + D / 2, Y0 + D / 2 + 0.001)


def gap(data: dict[str, Any]) -> None:
    # The south-west grid stops 0.002° short of its northern neighbour.
    unit(data, GRID_A)["geometry"]["coordinates"] = box(X0, Y0, X0 + D / 2, Y0 + D / 2 - 0.002)


def outside(data: dict[str, Any]) -> None:
    # The south-west grid reaches 0.001° west of the district.
    unit(data, GRID_A)["geometry"]["coordinates"] = box(X0 - 0.001, Y0, X0 + D / 2, Y0 + D / 2)


def no_properties(data: dict[str, Any]) -> None:
    del unit(data, GRID_A)["properties"]["code"]


CASES: list[tuple[str, Callable[[dict[str, Any]], None], str, str | None, float | None]] = [
    # (id, mutation, problem kind, code it names, area in m² it reports)
    ("duplicate code", duplicate, "duplicate_code", GRID_A, None),
    ("missing parent", missing_parent, "missing_parent", GRID_A, None),
    ("wrong parent level", wrong_parent_level, "wrong_parent_level", GRID_A, None),
    ("13-digit code", short_code, "bad_code", "3101170010010", None),
    ("code outside parent's prefix", foreign_prefix, "bad_code", "31011700200103", None),
    ("self-intersecting polygon", bowtie, "invalid_polygon", GRID_A, None),
    ("overlap", overlap, "overlap", GRID_A, m2(D / 2 * 0.001)),
    ("gap", gap, "gap", "310117001001", m2(D / 2 * 0.002)),
    ("outside parent", outside, "outside_parent", GRID_A, m2(0.001 * D / 2)),
    ("feature without code", no_properties, "bad_feature", None, None),
]


def test_small_grid_is_clean() -> None:
    report = check_grid(small_grid())
    assert report.problems == []
    assert report.ok
    assert report.counts == {Level.DISTRICT: 1, Level.STREET: 2, Level.COMMUNITY: 2, Level.GRID: 4}


@pytest.mark.parametrize(
    ("mutate", "kind", "code", "area"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_injected_problem_is_found(
    mutate: Callable[[dict[str, Any]], None], kind: str, code: str | None, area: float | None
) -> None:
    data = small_grid()
    mutate(data)
    problems = [p for p in check_grid(data).problems if p.kind == kind]
    assert problems, f"{kind} not reported"
    assert code in {p.code for p in problems}
    if area is not None:
        match = re.search(r"([\d.]+) m²", problems[0].message)
        assert match, problems[0].message
        assert float(match.group(1)) == pytest.approx(area, rel=0.01)


def test_gap_is_also_reported_against_the_district() -> None:
    data = small_grid()
    gap(data)
    gaps = {p.code: p.message for p in check_grid(data).problems if p.kind == "gap"}
    assert set(gaps) == {"310117001001", "310117"}
    assert "any grid" in gaps["310117"]
    assert "lon 121.00" in gaps["310117"] and "lat 31.00" in gaps["310117"]


def test_slivers_below_the_tolerance_are_ignored() -> None:
    data = small_grid()
    # 1e-9° (0.1 mm) short over 0.01°: about 0.1 m², rounding noise rather than a hole.
    unit(data, GRID_A)["geometry"]["coordinates"] = box(X0, Y0, X0 + D / 2, Y0 + D / 2 - 1e-9)
    assert check_grid(data).problems == []
    assert [p.kind for p in check_grid(data, min_area_m2=1e-6).problems] == ["gap", "gap"]


def test_not_a_feature_collection() -> None:
    report = check_grid({"type": "Feature"})
    assert [p.kind for p in report.problems] == ["bad_feature"]
    assert "FeatureCollection" in report.problems[0].message


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (duplicate, "more than one unit"),
        (missing_parent, "not in the grid"),
        (wrong_parent_level, "expected a community"),
        (no_properties, "'code' must be a non-empty string"),
    ],
)
def test_index_refuses_structurally_broken_input(
    mutate: Callable[[dict[str, Any]], None], message: str
) -> None:
    data = small_grid()
    mutate(data)
    with pytest.raises(GridFormatError, match=message):
        GridIndex.from_geojson(data)


def test_index_names_a_bad_level_and_geometry() -> None:
    data = small_grid()
    unit(data, GRID_A)["properties"]["level"] = "block"
    with pytest.raises(GridFormatError, match=r"feature #\d+ \(31011700100101\).*'block'"):
        GridIndex.from_geojson(data)
    data = small_grid()
    unit(data, GRID_A)["geometry"] = {"type": "Point", "coordinates": [121.0, 31.0]}
    with pytest.raises(GridFormatError, match="Polygon or MultiPolygon"):
        GridIndex.from_geojson(data)
