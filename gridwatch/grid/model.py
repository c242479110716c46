"""The read side of the grid: units, their hierarchy, and point location.

Everything that needs to know "which grid owns this place" builds on :class:`GridIndex`:
the aggregator routes a detection to the team of the grid it fell into, the CLI prints a
location's path, reports roll cases up to community and street. The index is loaded
from the GeoJSON written by ``gridwatch grid generate`` (one Feature per unit, all four
levels, WGS84 lon/lat).

Example::

    index = GridIndex.load(Path("configs/grid/songjiang.geojson"))
    index.path_names(index.locate(121.23, 31.01)[-1].code)
    # '松江区 › 岳阳街道 › …居委会 › …第03网格'
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

#: Metres per degree of latitude, and of longitude at the equator (WGS84, rounded).
M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON = 111_320.0
#: Decimals written for lon/lat: 1e-6 degree is about 0.1 m, the grid's snapping step.
COORD_DECIMALS = 6


class Level(StrEnum):
    """The four levels of the "1+18+304+1322" hierarchy, from the top."""

    DISTRICT = "district"
    STREET = "street"
    COMMUNITY = "community"
    GRID = "grid"


#: The level a unit's parent must have; the district has none.
PARENT_LEVEL: dict[Level, Level | None] = {
    Level.DISTRICT: None,
    Level.STREET: Level.DISTRICT,
    Level.COMMUNITY: Level.STREET,
    Level.GRID: Level.COMMUNITY,
}

#: Code length per level (CJ/T 213: 6-digit county + 3 street + 3 community + 2 grid).
CODE_LENGTH: dict[Level, int] = {
    Level.DISTRICT: 6,
    Level.STREET: 9,
    Level.COMMUNITY: 12,
    Level.GRID: 14,
}


class GridFormatError(ValueError):
    """A grid file is not a FeatureCollection of well-formed units.

    The message names the feature (position and code) and what is wrong. Recover by
    regenerating the file (``gridwatch grid generate``) or fixing that feature;
    ``gridwatch grid check FILE`` lists every problem at once.
    """


@dataclass(frozen=True)
class Unit:
    """One administrative unit (district, street, community or grid) with its polygon."""

    code: str
    name: str
    level: Level
    parent: str | None
    kind: str | None
    geometry: BaseGeometry


# --------------------------------------------------------------------------- parsing


def features_of(data: Any) -> list[Any]:
    """The feature list of a GeoJSON FeatureCollection; GridFormatError if it is not one."""
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise GridFormatError("not a GeoJSON FeatureCollection (top-level 'type' must be that)")
    features = data.get("features")
    if not isinstance(features, list):
        raise GridFormatError("'features' must be a list")
    return features


def _optional_str(props: dict[str, Any], key: str, where: str) -> str | None:
    value = props.get(key)
    if value is not None and not isinstance(value, str):
        raise GridFormatError(f"{where}: property {key!r} must be a string or null, got {value!r}")
    return value


def _geometry(feature: dict[str, Any], where: str) -> BaseGeometry:
    geojson = feature.get("geometry")
    if not isinstance(geojson, dict) or geojson.get("type") not in ("Polygon", "MultiPolygon"):
        kind = geojson.get("type") if isinstance(geojson, dict) else geojson
        raise GridFormatError(f"{where}: geometry must be a Polygon or MultiPolygon, got {kind!r}")
    try:
        geom = shape(geojson)
    except (ValueError, TypeError, IndexError, AttributeError, shapely.errors.GEOSException) as exc:
        raise GridFormatError(f"{where}: unreadable geometry: {exc}") from None
    assert isinstance(geom, BaseGeometry)
    return geom


def parse_feature(feature: Any, position: int) -> Unit:
    """Turn one GeoJSON Feature into a :class:`Unit`, or raise GridFormatError naming it.

    Only the structure is checked here (types, level names, geometry type); whether
    codes, parents and polygons make sense is :func:`gridwatch.grid.check.check_grid`'s job.
    """
    where = f"feature #{position}"
    if not isinstance(feature, dict) or not isinstance(feature.get("properties"), dict):
        raise GridFormatError(f"{where}: not a Feature with a 'properties' object")
    props: dict[str, Any] = feature["properties"]
    code = props.get("code")
    if not isinstance(code, str) or not code:
        raise GridFormatError(f"{where}: property 'code' must be a non-empty string")
    where = f"feature #{position} ({code})"
    name = props.get("name")
    if not isinstance(name, str) or not name:
        raise GridFormatError(f"{where}: property 'name' must be a non-empty string")
    try:
        level = Level(str(props.get("level")))
    except ValueError:
        allowed = ", ".join(level.value for level in Level)
        raise GridFormatError(
            f"{where}: property 'level' is {props.get('level')!r}, expected one of {allowed}"
        ) from None
    parent = _optional_str(props, "parent", where)
    kind = _optional_str(props, "kind", where)
    return Unit(code, name, level, parent, kind, _geometry(feature, where))


# --------------------------------------------------------------------------- geometry helpers


def areas_m2(geoms: Iterable[BaseGeometry] | np.ndarray) -> np.ndarray:
    """Approximate areas in m² of lon/lat geometries (local scale at each one's centroid).

    Good to well under 1% for district-sized shapes, which is all the checks need.
    """
    arr = np.asarray(list(geoms) if not isinstance(geoms, np.ndarray) else geoms, dtype=object)
    if arr.size == 0:
        return np.zeros(0)
    lat = np.zeros(arr.shape)
    filled = ~shapely.is_empty(arr)
    lat[filled] = shapely.get_y(shapely.centroid(arr[filled]))
    scale = M_PER_DEG_LON * np.cos(np.radians(lat)) * M_PER_DEG_LAT
    return np.asarray(shapely.area(arr) * scale, dtype=float)


def area_m2(geom: BaseGeometry) -> float:
    """Approximate area in m² of one lon/lat geometry."""
    return float(areas_m2([geom])[0])


def _rounded(coords: Any) -> Any:
    """Nested coordinate tuples as lists, rounded to COORD_DECIMALS."""
    if coords and isinstance(coords[0], float | int):
        return [round(float(c), COORD_DECIMALS) for c in coords]
    return [_rounded(c) for c in coords]


def unit_feature(unit: Unit) -> dict[str, Any]:
    """The GeoJSON Feature of a unit (properties in a fixed order, 6-decimal lon/lat)."""
    geojson = mapping(unit.geometry)
    return {
        "type": "Feature",
        "properties": {
            "code": unit.code,
            "name": unit.name,
            "level": unit.level.value,
            "parent": unit.parent,
            "kind": unit.kind,
        },
        "geometry": {"type": geojson["type"], "coordinates": _rounded(geojson["coordinates"])},
    }


# --------------------------------------------------------------------------- the index

_LEVEL_RANK = {level: rank for rank, level in enumerate(Level)}


class GridIndex:
    """All units of a grid, keyed by code, with hierarchy walks and point location.

    Construction checks what the index itself relies on (unique codes, parents that
    exist and sit one level up) and raises GridFormatError otherwise.
    """

    def __init__(self, units: Iterable[Unit]) -> None:
        ordered = sorted(units, key=lambda u: (_LEVEL_RANK[u.level], u.code))
        self.units: dict[str, Unit] = {}
        for unit in ordered:
            if unit.code in self.units:
                raise GridFormatError(f"code {unit.code} is used by more than one unit")
            self.units[unit.code] = unit
        for unit in ordered:
            self._check_parent(unit)

    def _check_parent(self, unit: Unit) -> None:
        expected = PARENT_LEVEL[unit.level]
        if expected is None:
            if unit.parent is not None:
                raise GridFormatError(f"{unit.code}: a district has no parent, got {unit.parent}")
            return
        parent = self.units.get(unit.parent) if unit.parent else None
        if parent is None:
            raise GridFormatError(f"{unit.code}: parent {unit.parent!r} is not in the grid")
        if parent.level != expected:
            raise GridFormatError(
                f"{unit.code}: parent {parent.code} is a {parent.level}, expected a {expected}"
            )

    @classmethod
    def from_geojson(cls, data: dict[str, Any]) -> GridIndex:
        """Build the index from a parsed GeoJSON FeatureCollection (see module docs)."""
        return cls(parse_feature(f, i) for i, f in enumerate(features_of(data)))

    @classmethod
    def load(cls, path: Path) -> GridIndex:
        """Read a grid GeoJSON file; GridFormatError if it is not valid JSON or not a grid."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise GridFormatError(f"{path}: not valid JSON: {exc}") from None
        try:
            return cls.from_geojson(data)
        except GridFormatError as exc:
            raise GridFormatError(f"{path}: {exc}") from None

    # ----------------------------------------------------------------- hierarchy

    def grids(self) -> list[Unit]:
        """The grid-level units, sorted by code."""
        return [u for u in self.units.values() if u.level == Level.GRID]

    def counts(self) -> dict[Level, int]:
        """Number of units per level (every level present, zero when empty)."""
        counts = dict.fromkeys(Level, 0)
        for unit in self.units.values():
            counts[unit.level] += 1
        return counts

    def children(self, code: str) -> list[Unit]:
        """The units whose parent is ``code``, sorted by code."""
        return [u for u in self.units.values() if u.parent == code]

    def path(self, code: str) -> list[Unit]:
        """The chain district → … → unit; KeyError for an unknown code."""
        chain = [self.units[code]]
        while chain[-1].parent is not None:
            chain.append(self.units[chain[-1].parent])
        return chain[::-1]

    def path_names(self, code: str) -> str:
        """The chain's names joined for display, e.g. "松江区 › 岳阳街道 › X居委会 › X第07网格"."""
        return " › ".join(u.name for u in self.path(code))

    # ----------------------------------------------------------------- location

    @cached_property
    def _grid_codes(self) -> np.ndarray:
        return np.array([u.code for u in self.grids()], dtype=object)

    @cached_property
    def _tree(self) -> shapely.STRtree:
        return shapely.STRtree([u.geometry for u in self.grids()])

    def locate_many(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """The grid code of each point (object array), None where a point is outside.

        Vectorised through an STRtree, so hundreds of thousands of points take about a
        second. A point on a boundary shared by several grids goes to the lowest code,
        so every point has exactly one owner whatever the query order.
        """
        lon_arr = np.asarray(lon, dtype=float).ravel()
        lat_arr = np.asarray(lat, dtype=float).ravel()
        if lon_arr.shape != lat_arr.shape:
            raise ValueError(f"lon and lat differ in length: {lon_arr.shape} vs {lat_arr.shape}")
        out = np.full(lon_arr.shape, None, dtype=object)
        if lon_arr.size == 0 or self._grid_codes.size == 0:
            return out
        point_idx, grid_idx = self._tree.query(
            shapely.points(lon_arr, lat_arr), predicate="intersects"
        )
        # Grids are in code order, so the smallest tree index is the lowest code.
        order = np.lexsort((grid_idx, point_idx))
        first_points, first = np.unique(point_idx[order], return_index=True)
        out[first_points] = self._grid_codes[grid_idx[order][first]]
        return out

    def locate(self, lon: float, lat: float) -> list[Unit] | None:
        """The full path district → grid of the grid containing (lon, lat); None outside."""
        if not (math.isfinite(lon) and math.isfinite(lat)):
            return None
        code = self.locate_many(np.array([lon]), np.array([lat]))[0]
        return None if code is None else self.path(code)

    # ----------------------------------------------------------------- output

    def to_geojson(self) -> dict[str, Any]:
        """The whole grid as a FeatureCollection: district, streets, communities, grids."""
        return {
            "type": "FeatureCollection",
            "features": [unit_feature(u) for u in self.units.values()],
        }
