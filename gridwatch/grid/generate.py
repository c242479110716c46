"""Generate Songjiang's "1+18+304+1322" grid, deterministically from a seed.

Real boundaries are not available offline, so the shapes are synthetic but plausible;
the 18 streets/towns are real (names, codes and approximate centroids from
``songjiang_units.csv``), and the counts match the district's published system:
1 district, 18 streets, 304 communities (147 residential committees, 107 village
committees, 50 industrial parks) and 1322 grids.

How, and why this way:

1. The district outline is an irregular ring around the 18 centroids whose area is
   exactly 604.65 km², built in a local km projection (equal-area enough at this
   scale) and converted back to lon/lat.
2. Streets are the Voronoi cells of their centroids clipped to the outline.
3. Communities are Voronoi cells of seeds sampled inside each street (residential
   seeds drawn near the centre, so the town core is finer), relaxed with a few Lloyd
   steps for compact shapes; cells nearest the centre become residential committees,
   then industrial parks, the outer ones village committees.
4. Grids are relaxed Voronoi cells inside each community.
5. Exact tiling: the boundaries of all grid cells are noded together with snap
   rounding on a 1e-6° grid and polygonized; each face joins the raw grid cell it lies
   in, and every upper level is the union of its children. Neighbours therefore share
   identical vertices, and children tile their parents with no slivers at all.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from gridwatch.grid.model import COORD_DECIMALS, GridIndex, Level, Unit, unit_feature

DISTRICT_CODE = "310117"
DISTRICT_NAME = "松江区"
DISTRICT_AREA_KM2 = 604.65
TOTAL_GRIDS = 1322
#: Snapping step of every coordinate, in degrees (about 0.1 m).
GRID_SIZE = 10.0**-COORD_DECIMALS
#: Vertices of the district outline (more: a finer edge and a bigger file).
OUTLINE_VERTICES = 160
KM_PER_DEG_LAT = 110.574
KM_PER_DEG_LON_EQUATOR = 111.32


class CommunityKind(StrEnum):
    """The three kinds of community (小网) under a street."""

    RESIDENTIAL = "residential"  # 居委会
    VILLAGE = "village"  # 村委会
    INDUSTRIAL_PARK = "industrial_park"


#: First 3-digit number of each kind under its street (residential from 001, villages
#: from 200 as Shanghai does; industrial parks from 400).
CODE_START = {
    CommunityKind.RESIDENTIAL: 1,
    CommunityKind.VILLAGE: 200,
    CommunityKind.INDUSTRIAL_PARK: 400,
}
NAME_SUFFIX = {
    CommunityKind.RESIDENTIAL: "居委会",
    CommunityKind.VILLAGE: "村",
    CommunityKind.INDUSTRIAL_PARK: "工业园",
}
#: Communities (residential, village, industrial park) shared out among the streets of
#: each kind. Totals: 147 residential, 107 village, 50 industrial parks.
KIND_QUOTAS: dict[str, tuple[int, int, int]] = {
    "subdistrict": (80, 4, 0),
    "town": (64, 103, 26),
    "industrial_zone": (3, 0, 24),
}
#: Relative number of grids per community: dense residential cores are split finest.
GRID_WEIGHT = {
    CommunityKind.RESIDENTIAL: 5.0,
    CommunityKind.VILLAGE: 3.0,
    CommunityKind.INDUSTRIAL_PARK: 2.0,
}
SUBDISTRICT_RESIDENTIAL_GRID_WEIGHT = 6.5
#: Characters for generated place names (two per name).
SYLLABLES = (
    "东西南北新华兴安康宁和平永丰泰福祥瑞明光春秋荷桃李梅竹柏枫桥塘泾浜港湖溪泉林庄湾"
    "云庆昌盛荣佳美金玉锦绣文德仁义龙凤鹤霞晨星辰乐善嘉禾"
)


@dataclass(frozen=True)
class StreetSeed:
    """One row of ``songjiang_units.csv``: a real street/town and its approximate centroid."""

    code: str
    name: str
    kind: str
    area_km2: float | None
    lon: float
    lat: float


def load_street_seeds() -> list[StreetSeed]:
    """The 18 streets/towns shipped with the package, in code order."""
    text = resources.files("gridwatch.grid").joinpath("songjiang_units.csv").read_text("utf-8")
    rows = csv.DictReader(io.StringIO(text))
    seeds = [
        StreetSeed(
            code=row["code"],
            name=row["name"],
            kind=row["kind"],
            area_km2=float(row["area_km2"]) if row["area_km2"] else None,
            lon=float(row["approx_lon"]),
            lat=float(row["approx_lat"]),
        )
        for row in rows
    ]
    return sorted(seeds, key=lambda s: s.code)


@dataclass(frozen=True)
class LocalProjection:
    """A local km plane around (lon0, lat0): x east, y north; fine for a 40 km district."""

    lon0: float
    lat0: float

    @property
    def km_per_deg_lon(self) -> float:
        return KM_PER_DEG_LON_EQUATOR * float(np.cos(np.radians(self.lat0)))

    def to_km(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """(n, 2) km coordinates of lon/lat arrays."""
        x = (np.asarray(lon) - self.lon0) * self.km_per_deg_lon
        y = (np.asarray(lat) - self.lat0) * KM_PER_DEG_LAT
        return np.column_stack([x, y])

    def geometry_to_km(self, geom: BaseGeometry) -> BaseGeometry:
        return shapely.transform(geom, lambda xy: self.to_km(xy[:, 0], xy[:, 1]))

    def geometry_to_lonlat(self, geom: BaseGeometry) -> BaseGeometry:
        def back(xy: np.ndarray) -> np.ndarray:
            lon = xy[:, 0] / self.km_per_deg_lon + self.lon0
            return np.column_stack([lon, xy[:, 1] / KM_PER_DEG_LAT + self.lat0])

        return shapely.transform(geom, back)


# --------------------------------------------------------------------------- allocation


def apportion(total: int, weights: Sequence[float], minimum: int = 0) -> list[int]:
    """Split ``total`` into integers proportional to ``weights``, each at least ``minimum``.

    Largest-remainder method, so the parts always sum to ``total`` exactly:
    ``apportion(10, [1, 1, 2]) == [3, 2, 5]`` (ties go to the earlier weight).
    """
    rest = total - minimum * len(weights)
    if rest < 0 or not weights:
        raise ValueError(f"cannot give {len(weights)} parts at least {minimum} out of {total}")
    w = np.asarray(weights, dtype=float)
    share = rest * w / w.sum()
    base = np.floor(share).astype(int)
    order = np.argsort(-(share - base), kind="stable")
    base[order[: rest - int(base.sum())]] += 1
    return [int(b) + minimum for b in base]


def allocate_communities(
    streets: Sequence[StreetSeed], areas_km2: Sequence[float]
) -> list[tuple[int, int, int]]:
    """Per street: (residential, village, industrial park) counts from KIND_QUOTAS.

    Residential committees follow the square root of the area (small central streets
    are dense), villages and parks follow the area; every town gets at least one of each.
    """
    result: dict[int, tuple[int, int, int]] = {}
    for kind, (n_res, n_vil, n_park) in KIND_QUOTAS.items():
        members = [i for i, s in enumerate(streets) if s.kind == kind]
        if not members:
            raise ValueError(f"no street of kind {kind!r} in the street list")
        area = [areas_km2[i] for i in members]
        minimum = 1 if kind == "town" else 0
        res = apportion(n_res, [a**0.5 for a in area], max(minimum, 1 if n_res else 0))
        vil = apportion(n_vil, area, minimum)
        park = apportion(n_park, area, minimum)
        for j, i in enumerate(members):
            result[i] = (res[j], vil[j], park[j])
    return [result[i] for i in range(len(streets))]


# --------------------------------------------------------------------------- geometry


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    """Drop the points/lines an overlay may add where shapes merely touch."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and not p.is_empty]
    return shapely.multipolygons(parts) if len(parts) > 1 else parts[0]


def _sample(
    region: BaseGeometry,
    n: int,
    rng: np.random.Generator,
    near: np.ndarray | None = None,
    sigma: float = 0.0,
) -> np.ndarray:
    """``n`` random points inside ``region``: uniform, or normal around ``near``."""
    shapely.prepare(region)
    minx, miny, maxx, maxy = region.bounds
    found: list[np.ndarray] = [np.empty((0, 2))]
    count, rounds = 0, 0
    while count < n:
        size = (max(2 * n, 16), 2)
        if near is not None and rounds < 50:
            xy = rng.normal(near, sigma, size=size)
        else:
            xy = rng.uniform((minx, miny), (maxx, maxy), size=size)
        inside = xy[shapely.contains_xy(region, xy[:, 0], xy[:, 1])]
        found.append(inside)
        count += len(inside)
        rounds += 1
    return np.vstack(found)[:n]


def _voronoi_cells(region: BaseGeometry, seeds: np.ndarray) -> list[BaseGeometry]:
    """Voronoi cells of ``seeds`` clipped to ``region``, in seed order."""
    if len(seeds) == 1:
        return [region]
    diagram = shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=region, ordered=True)
    cells = shapely.get_parts(diagram)
    if len(cells) != len(seeds):
        raise RuntimeError(f"Voronoi diagram has {len(cells)} cells for {len(seeds)} seeds")
    return [_polygonal(c) for c in shapely.intersection(cells, region)]


def relaxed_cells(region: BaseGeometry, seeds: np.ndarray, steps: int) -> list[BaseGeometry]:
    """Voronoi cells after ``steps`` Lloyd moves (each seed to its cell's centroid)."""
    cells = _voronoi_cells(region, seeds)
    for _ in range(steps):
        centres = shapely.centroid(cells)
        outside = ~shapely.contains(region, centres)
        centres[outside] = shapely.point_on_surface(np.asarray(cells, dtype=object)[outside])
        cells = _voronoi_cells(region, shapely.get_coordinates(centres))
    return cells


def district_outline(points: np.ndarray, rng: np.random.Generator) -> Polygon:
    """An irregular star-shaped ring around ``points`` (km) of exactly DISTRICT_AREA_KM2.

    The radius in each direction is the points' extent plus a wiggly margin; the margin
    is found by bisection so the area is exact, and every point stays well inside.
    """
    center = points.mean(axis=0)
    theta = np.linspace(0.0, 2 * np.pi, OUTLINE_VERTICES, endpoint=False)
    dirs = np.column_stack([np.cos(theta), np.sin(theta)])
    support = ((points - center) @ dirs.T).max(axis=0)
    wiggle = np.ones_like(theta)
    for k in range(2, 13):
        wiggle += rng.uniform(0.0, 0.35) / k * np.cos(k * theta + rng.uniform(0, 2 * np.pi))

    def ring(margin: float) -> Polygon:
        return Polygon(center + (support + margin * wiggle)[:, None] * dirs)

    low, high = 0.0, 50.0
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if ring(mid).area < DISTRICT_AREA_KM2 else (low, mid)
    outline = ring(high)
    if not shapely.contains_xy(outline, points[:, 0], points[:, 1]).all():
        raise RuntimeError("district outline does not contain every street centroid")
    return outline


# --------------------------------------------------------------------------- snapping


def _merge(parts: Sequence[BaseGeometry]) -> BaseGeometry:
    """Union of pieces that share exact edges (a coverage), as one (Multi)Polygon."""
    if len(parts) == 1:
        return parts[0]
    merged = shapely.coverage_union_all(parts)
    if not merged.is_valid:
        merged = shapely.union_all(parts, grid_size=GRID_SIZE)
    return _polygonal(merged)


def _face_owners(faces: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Index of the raw cell each snapped face belongs to."""
    tree = shapely.STRtree(cells)
    face_idx, cell_idx = tree.query(shapely.point_on_surface(faces), predicate="within")
    owners = np.full(len(faces), -1)
    single = np.bincount(face_idx, minlength=len(faces))[face_idx] == 1
    owners[face_idx[single]] = cell_idx[single]
    for f in np.flatnonzero(owners < 0):
        candidates = tree.query(faces[f], predicate="intersects")
        overlap = shapely.area(shapely.intersection(cells[candidates], faces[f]))
        owners[f] = candidates[int(np.argmax(overlap))]
    return owners


def snap_cells(cells: Sequence[BaseGeometry]) -> list[BaseGeometry]:
    """The cells of a near-tiling snapped to GRID_SIZE as an exact tiling (same order)."""
    raw = np.asarray(cells, dtype=object)
    lines = shapely.union_all(shapely.boundary(raw), grid_size=GRID_SIZE)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(lines)))
    owners = _face_owners(faces, raw)
    snapped = []
    for i in range(len(raw)):
        mine = faces[owners == i]
        if len(mine) == 0:
            raise RuntimeError(f"cell {i} vanished when snapped to {GRID_SIZE}°")
        snapped.append(_merge(list(mine)))
    return snapped


# --------------------------------------------------------------------------- naming


class _Namer:
    """Unique two-character name stems drawn from SYLLABLES."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def stem(self) -> str:
        while True:
            a, b = self.rng.choice(len(SYLLABLES), size=2, replace=False)
            stem = SYLLABLES[a] + SYLLABLES[b]
            if stem not in self.used:
                self.used.add(stem)
                return stem


# --------------------------------------------------------------------------- assembly


@dataclass
class _RawCommunity:
    street: int
    kind: CommunityKind
    cell: BaseGeometry  # km
    grids: list[BaseGeometry]  # km, ordered north-west first


def _street_communities(
    street: int,
    region: BaseGeometry,
    center: np.ndarray,
    quota: tuple[int, int, int],
    rng: np.random.Generator,
) -> list[_RawCommunity]:
    """Community cells of one street, grouped by kind, nearest the centre first."""
    n_res, n_vil, n_park = quota
    n = n_res + n_vil + n_park
    sigma = float(np.sqrt(region.area)) / 4
    seeds = np.vstack(
        [
            _sample(region, n_res, rng, near=center, sigma=sigma),
            _sample(region, n - n_res, rng),
        ]
    )
    cells = relaxed_cells(region, seeds, steps=2)
    dist = shapely.distance(shapely.points(center), shapely.point_on_surface(cells))
    order = np.argsort(dist, kind="stable")
    kinds = (
        [CommunityKind.RESIDENTIAL] * n_res
        + [CommunityKind.INDUSTRIAL_PARK] * n_park
        + [CommunityKind.VILLAGE] * n_vil
    )
    return [_RawCommunity(street, kinds[r], cells[i], []) for r, i in enumerate(order)]


def _grid_weights(
    communities: list[_RawCommunity], streets: Sequence[StreetSeed], rng: np.random.Generator
) -> list[float]:
    weights = []
    for c in communities:
        w = GRID_WEIGHT[c.kind]
        if c.kind == CommunityKind.RESIDENTIAL and streets[c.street].kind == "subdistrict":
            w = SUBDISTRICT_RESIDENTIAL_GRID_WEIGHT
        weights.append(w * rng.uniform(0.75, 1.25))
    return weights


def _split_grids(community: _RawCommunity, n: int, rng: np.random.Generator) -> list[BaseGeometry]:
    cells = relaxed_cells(community.cell, _sample(community.cell, n, rng), steps=3)
    centres = shapely.get_coordinates(shapely.point_on_surface(cells))
    order = np.lexsort((centres[:, 0], -np.round(centres[:, 1], 3)))
    return [cells[i] for i in order]


def _raw_hierarchy(
    streets: Sequence[StreetSeed], proj: LocalProjection, rng: np.random.Generator
) -> tuple[BaseGeometry, list[_RawCommunity]]:
    """The district outline and every community with its grid cells, in km."""
    centers = proj.to_km(np.array([s.lon for s in streets]), np.array([s.lat for s in streets]))
    outline = district_outline(centers, rng)
    street_cells = _voronoi_cells(outline, centers)
    quotas = allocate_communities(streets, [c.area for c in street_cells])
    communities: list[_RawCommunity] = []
    for i, (cell, quota) in enumerate(zip(street_cells, quotas, strict=True)):
        communities += _street_communities(i, cell, centers[i], quota, rng)
    counts = apportion(TOTAL_GRIDS, _grid_weights(communities, streets, rng), minimum=1)
    for community, n in zip(communities, counts, strict=True):
        community.grids = _split_grids(community, n, rng)
    return outline, communities


def generate(seed: int) -> GridIndex:
    """Build the whole Songjiang grid from ``seed`` (same seed, same grid, bit for bit)."""
    rng = np.random.default_rng(seed)
    streets = load_street_seeds()
    proj = LocalProjection(
        lon0=float(np.mean([s.lon for s in streets])), lat0=float(np.mean([s.lat for s in streets]))
    )
    _, communities = _raw_hierarchy(streets, proj, rng)
    raw_grids = [proj.geometry_to_lonlat(g) for c in communities for g in c.grids]
    grid_geoms = iter(snap_cells(raw_grids))
    namer = _Namer(rng)
    units: list[Unit] = []
    street_parts: dict[int, list[BaseGeometry]] = {i: [] for i in range(len(streets))}
    numbers: dict[tuple[int, CommunityKind], int] = {}
    for community in communities:
        key = (community.street, community.kind)
        number = CODE_START[community.kind] + numbers.get(key, 0)
        numbers[key] = numbers.get(key, 0) + 1
        street = streets[community.street]
        code = f"{street.code}{number:03d}"
        name = namer.stem() + NAME_SUFFIX[community.kind]
        grids = [next(grid_geoms) for _ in community.grids]
        for j, geom in enumerate(grids, start=1):
            units.append(
                Unit(f"{code}{j:02d}", f"{name}第{j:02d}网格", Level.GRID, code, "grid", geom)
            )
        geom = _merge(grids)
        units.append(Unit(code, name, Level.COMMUNITY, street.code, community.kind.value, geom))
        street_parts[community.street].append(geom)
    for i, street in enumerate(streets):
        geom = _merge(street_parts[i])
        units.append(Unit(street.code, street.name, Level.STREET, DISTRICT_CODE, street.kind, geom))
        street_parts[i] = [geom]
    district = _merge([parts[0] for parts in street_parts.values()])
    units.append(Unit(DISTRICT_CODE, DISTRICT_NAME, Level.DISTRICT, None, "district", district))
    return GridIndex(_oriented(u) for u in units)


def _oriented(unit: Unit) -> Unit:
    """RFC 7946 ring order: exterior counter-clockwise, holes clockwise."""
    geom = shapely.orient_polygons(unit.geometry, exterior_cw=False)
    return Unit(unit.code, unit.name, unit.level, unit.parent, unit.kind, geom)


def geojson_text(index: GridIndex) -> str:
    """The grid as GeoJSON text: one Feature per line, so diffs stay readable."""
    lines = [
        json.dumps(unit_feature(u), ensure_ascii=False, separators=(",", ":"))
        for u in index.units.values()
    ]
    return '{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n"


def write_geojson(index: GridIndex, path: Path) -> None:
    """Write :func:`geojson_text` to ``path``, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(geojson_text(index), encoding="utf-8")
