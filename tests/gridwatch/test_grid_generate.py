"""The generated Songjiang grid: counts, codes, determinism, tiling and point location."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import shapely

from gridwatch.config import GridConfig
from gridwatch.grid.check import check_grid
from gridwatch.grid.generate import (
    DISTRICT_AREA_KM2,
    apportion,
    generate,
    geojson_text,
    load_street_seeds,
)
from gridwatch.grid.model import GridIndex, Level, areas_m2

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "configs" / "grid" / "songjiang.geojson"
DEFAULT_SEED = GridConfig().seed
YUEYANG = "310117001"


@pytest.fixture(scope="module")
def text() -> str:
    return geojson_text(generate(DEFAULT_SEED))


@pytest.fixture(scope="module")
def index(text: str) -> GridIndex:
    # Read back from the text, as every user of the file does.
    return GridIndex.from_geojson(json.loads(text))


def test_counts_match_the_1_18_304_1322_system(index: GridIndex) -> None:
    assert index.counts() == {
        Level.DISTRICT: 1,
        Level.STREET: 18,
        Level.COMMUNITY: 304,
        Level.GRID: 1322,
    }
    kinds = Counter(u.kind for u in index.units.values() if u.level == Level.COMMUNITY)
    assert kinds == {"residential": 147, "village": 107, "industrial_park": 50}
    streets = Counter(u.kind for u in index.units.values() if u.level == Level.STREET)
    assert streets == {"subdistrict": 6, "town": 11, "industrial_zone": 1}


def test_streets_are_the_real_ones(index: GridIndex) -> None:
    streets = {u.code: u.name for u in index.units.values() if u.level == Level.STREET}
    assert streets == {s.code: s.name for s in load_street_seeds()}
    assert len(streets) == 18
    assert streets[YUEYANG] == "岳阳街道"
    assert index.units["310117"].name == "松江区"


def test_codes_follow_the_scheme(index: GridIndex) -> None:
    first = {"residential": 1, "village": 200, "industrial_park": 400}
    for unit in index.units.values():
        if unit.level == Level.COMMUNITY:
            number = int(unit.code[9:])
            assert unit.code.startswith(unit.parent or "?") and len(unit.code) == 12
            assert first[unit.kind or ""] <= number < first[unit.kind or ""] + 199
            grids = index.children(unit.code)
            assert grids, f"community {unit.code} has no grid"
            assert [g.code[12:] for g in grids] == [f"{i:02d}" for i in range(1, len(grids) + 1)]
            assert all(g.name == f"{unit.name}第{g.code[12:]}网格" for g in grids)
    names = Counter(u.name for u in index.units.values() if u.level == Level.COMMUNITY)
    assert max(names.values()) == 1
    # Central subdistricts are denser: more grids per community than villages have.
    grids_per = Counter(u.parent for u in index.grids())
    res = [grids_per[u.code] for u in index.units.values() if u.kind == "residential"]
    vil = [grids_per[u.code] for u in index.units.values() if u.kind == "village"]
    assert np.mean(res) > np.mean(vil)


def test_district_area_is_songjiang_s(index: GridIndex) -> None:
    area_km2 = areas_m2([index.units["310117"].geometry])[0] / 1e6
    assert area_km2 == pytest.approx(DISTRICT_AREA_KM2, rel=0.005)


def test_generated_grid_passes_the_check(text: str) -> None:
    report = check_grid(json.loads(text), min_area_m2=0.01)
    assert report.problems == []
    assert report.counts[Level.GRID] == 1322


def test_committed_file_is_the_default_generation(text: str) -> None:
    assert COMMITTED.read_text(encoding="utf-8") == text
    assert COMMITTED.stat().st_size < 3_000_000


def test_same_seed_same_grid_other_seed_other_grid(text: str) -> None:
    again = geojson_text(generate(7))
    assert again == geojson_text(generate(7))
    assert again != text


def test_random_points_fall_in_exactly_one_grid_inside_its_parents(index: GridIndex) -> None:
    district = index.units["310117"].geometry
    rng = np.random.default_rng(3)
    minx, miny, maxx, maxy = district.bounds
    lon, lat = rng.uniform(minx, maxx, 4000), rng.uniform(miny, maxy, 4000)
    inside = shapely.contains_xy(district, lon, lat)
    lon, lat = lon[inside], lat[inside]
    codes = index.locate_many(lon, lat)
    assert all(c is not None for c in codes)
    grids = index.grids()
    hits = shapely.STRtree([g.geometry for g in grids]).query(
        shapely.points(lon, lat), predicate="intersects"
    )
    assert (np.bincount(hits[0], minlength=len(lon)) == 1).all()
    for x, y, code in list(zip(lon, lat, codes, strict=True))[:300]:
        _, street, community, grid = index.path(code)
        for unit in (street, community, grid):
            assert unit.geometry.contains(shapely.Point(x, y)), unit.code


def test_points_outside_locate_to_nothing(index: GridIndex) -> None:
    assert index.locate(120.0, 31.0) is None
    assert index.locate(float("nan"), 31.0) is None
    out = index.locate_many(np.array([120.0, 0.0]), np.array([31.0, 0.0]))
    assert out.tolist() == [None, None]


def test_point_in_yueyang_locates_to_yueyang(index: GridIndex) -> None:
    spot = index.units[YUEYANG].geometry.representative_point()
    path = index.locate(spot.x, spot.y)
    assert path is not None
    assert [u.level for u in path] == [Level.DISTRICT, Level.STREET, Level.COMMUNITY, Level.GRID]
    assert path[1].code == YUEYANG
    assert index.path_names(path[-1].code).startswith("松江区 › 岳阳街道 › ")


def test_point_on_a_shared_boundary_goes_to_the_lowest_code(index: GridIndex) -> None:
    grids = index.grids()
    a = grids[0]
    b = next(g for g in grids[1:] if g.geometry.intersection(a.geometry).length > 0)
    shared = a.geometry.boundary.intersection(b.geometry.boundary)
    x, y = shapely.get_coordinates(shared)[0]
    assert index.locate_many(np.array([x]), np.array([y]))[0] == min(a.code, b.code)


def test_locate_many_is_fast(index: GridIndex) -> None:
    rng = np.random.default_rng(0)
    minx, miny, maxx, maxy = index.units["310117"].geometry.bounds
    lon, lat = rng.uniform(minx, maxx, 200_000), rng.uniform(miny, maxy, 200_000)
    index.locate_many(lon[:10], lat[:10])  # build the tree first
    started = time.perf_counter()
    codes = index.locate_many(lon, lat)
    assert time.perf_counter() - started < 5.0
    assert codes.shape == (200_000,)


@pytest.mark.parametrize(
    ("total", "weights", "minimum", "expected"),
    [
        (10, [1, 1, 2], 0, [3, 2, 5]),
        (3, [1, 1, 1], 1, [1, 1, 1]),
        (7, [0.0, 1.0], 1, [1, 6]),
        (100, [3, 1], 0, [75, 25]),
    ],
)
def test_apportion_sums_exactly(
    total: int, weights: list[float], minimum: int, expected: list[int]
) -> None:
    assert apportion(total, weights, minimum) == expected
    assert sum(apportion(total, weights, minimum)) == total


def test_apportion_refuses_impossible_minimum() -> None:
    with pytest.raises(ValueError, match="at least"):
        apportion(2, [1, 1, 1], 1)
