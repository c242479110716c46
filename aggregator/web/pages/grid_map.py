"""The grid map: every grid of the district as an SVG shape, shaded by its open cases.

No map tiles: the polygons of ``grid_units`` are projected (equirectangular, scaled by
the cosine of the district's mean latitude) into SVG paths on the server. The page
zooms to a street or community by changing the SVG's viewBox (small vanilla JS), and a
click on a grid loads its panel (open and recent cases, cameras) from
``/map/grids/{code}``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select

from aggregator.models import CASES
from aggregator.web.deps import AppConfig, CurrentUser, DbSession, Templates
from aggregator.web.pages.common import event_name, render
from aggregator.web.pages.i18n import language
from aggregator.workflow import OPEN_STATES
from gridwatch.db.models import CameraRow, GridUnitRow

router = APIRouter()
WIDTH = 1000.0  # SVG user units across the district
SHADES = ((0, "#d5e0ea"), (1, "#ffe082"), (2, "#ffb74d"), (4, "#f57c00"), (8, "#c62828"))
PANEL_CASES = 20


@dataclass(frozen=True)
class Projection:
    """lon/lat → SVG x/y (y down), fitted to the district's bounding box."""

    lon0: float
    lat1: float
    kx: float
    ky: float

    @classmethod
    def fit(cls, bbox: tuple[float, float, float, float]) -> Projection:
        lon0, lat0, lon1, lat1 = bbox
        cos = math.cos(math.radians((lat0 + lat1) / 2))
        k = WIDTH / max(1e-9, (lon1 - lon0) * cos)
        return cls(lon0, lat1, k * cos, k)

    def path(self, geometry: dict[str, Any]) -> str:
        """An SVG path ``d`` for a GeoJSON Polygon or MultiPolygon."""
        polygons = geometry.get("coordinates") or []
        if geometry.get("type") == "Polygon":
            polygons = [polygons]
        parts = []
        for polygon in polygons:
            for ring in polygon:
                points = " ".join(
                    f"{(lon - self.lon0) * self.kx:.1f},{(self.lat1 - lat) * self.ky:.1f}"
                    for lon, lat in ring
                )
                parts.append(f"M{points}Z")
        return "".join(parts)


def _points(geometry: dict[str, Any]) -> list[tuple[float, float]]:
    polygons = geometry.get("coordinates") or []
    if geometry.get("type") == "Polygon":
        polygons = [polygons]
    return [(p[0], p[1]) for polygon in polygons for ring in polygon for p in ring]


def _bbox(points: list[tuple[float, float]]) -> tuple[float, float, float, float]:
    lons = [p[0] for p in points] or [0.0]
    lats = [p[1] for p in points] or [0.0]
    return min(lons), min(lats), max(lons), max(lats)


def shade(count: int) -> str:
    """Fill colour for a grid with ``count`` open cases."""
    colour = SHADES[0][1]
    for threshold, value in SHADES:
        if count >= threshold:
            colour = value
    return colour


def _view_box(proj: Projection, geometry: dict[str, Any]) -> str:
    lon0, lat0, lon1, lat1 = _bbox(_points(geometry))
    x0, y0 = (lon0 - proj.lon0) * proj.kx, (proj.lat1 - lat1) * proj.ky
    x1, y1 = (lon1 - proj.lon0) * proj.kx, (proj.lat1 - lat0) * proj.ky
    return f"{x0:.0f} {y0:.0f} {max(1.0, x1 - x0):.0f} {max(1.0, y1 - y0):.0f}"


def open_counts(db: Any) -> dict[str, int]:
    c = CASES.c
    stmt = (
        select(c.grid_code, func.count())
        .where(c.state.in_([str(s) for s in OPEN_STATES]))
        .group_by(c.grid_code)
    )
    return {code: int(n) for code, n in db.execute(stmt)}


def map_layers(db: Any) -> dict[str, Any]:
    """Projected shapes per level, with names, parents and zoom boxes."""
    units = list(db.execute(select(GridUnitRow)).scalars())
    district = next((u for u in units if u.level == "district"), None)
    everything = [p for u in units if u.level == "grid" for p in _points(u.geometry)]
    proj = Projection.fit(_bbox(everything))
    counts = open_counts(db)
    layers: dict[str, list[dict[str, Any]]] = {"street": [], "community": [], "grid": []}
    for u in units:
        if u.level not in layers:
            continue
        item = {"code": u.code, "name": u.name, "parent": u.parent_code, "d": proj.path(u.geometry)}
        if u.level == "grid":
            item["open"] = counts.get(u.code, 0)
            item["fill"] = shade(item["open"])
        else:
            item["box"] = _view_box(proj, u.geometry)
        layers[u.level].append(item)
    south = min((p[1] for p in everything), default=proj.lat1)
    full = f"0 0 {WIDTH:.0f} {(proj.lat1 - south) * proj.ky:.0f}"
    return {"proj": proj, "layers": layers, "full_box": full, "district": district}


@router.get("/map", response_class=HTMLResponse)
def map_page(
    request: Request, db: DbSession, user: CurrentUser, templates: Templates
) -> HTMLResponse:
    """All grids as SVG, shaded by open cases, with street/community zoom."""
    data = map_layers(db)
    return render(
        request,
        templates,
        "pages/map.html",
        user,
        active="map",
        layers=data["layers"],
        full_box=data["full_box"],
        shades=SHADES,
        total_open=sum(g["open"] for g in data["layers"]["grid"]),
    )


@router.get("/map/grids/{code}", response_class=HTMLResponse)
def grid_panel(
    code: str,
    request: Request,
    db: DbSession,
    ctx: AppConfig,
    user: CurrentUser,
    templates: Templates,
) -> HTMLResponse:
    """The panel of one grid: its path, open and recent cases, and its cameras."""
    unit = db.get(GridUnitRow, code)
    if unit is None or unit.level != "grid":
        raise HTTPException(404, f"no grid {code}")
    c = CASES.c
    cases = list(
        db.execute(
            select(CASES).where(c.grid_code == code).order_by(c.id.desc()).limit(PANEL_CASES)
        )
    )
    cameras = list(
        db.execute(
            select(CameraRow).where(CameraRow.grid_code == code).order_by(CameraRow.camera_id)
        ).scalars()
    )
    community = db.get(GridUnitRow, unit.parent_code) if unit.parent_code else None
    lang = language(request)
    return render(
        request,
        templates,
        "pages/map_panel.html",
        user,
        unit=unit,
        community=community,
        cases=cases,
        names={r.event_code: event_name(ctx.event_types, r.event_code, lang) for r in cases},
        cameras=cameras,
    )
