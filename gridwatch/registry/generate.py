"""Synthetic camera registries: a demo of a few thousand cameras, or a city of 200,000.

Cameras are spread like a real deployment: far denser in the six central subdistricts
(街道) than in the towns, each one placed uniformly inside its street, with Hikvision-style
main/sub stream URLs, a password (kept, and masked whenever shown), and zones chosen by
what the camera looks at (a bin point, a market, a kerb, a shopfront...).
"""

from __future__ import annotations

import numpy as np
import shapely

from gridwatch.grid.model import GridIndex, Level, Unit
from gridwatch.registry.schema import CameraRecord
from gridwatch.registry.zones import Zone, ZonePurpose

# Cameras per km² relative to a town; central subdistricts are about 8x denser.
DENSITY = {"subdistrict": 8.0, "town": 1.0, "industrial_zone": 2.0}
# What a camera looks at: (name suffix, tag, zone purposes, share of cameras).
SITES: tuple[tuple[str, str, tuple[ZonePurpose, ...], float], ...] = (
    ("垃圾房", "bin-point", (ZonePurpose.BIN_AREA, ZonePurpose.NO_DUMPING), 0.18),
    ("菜场", "market", (ZonePurpose.NO_VENDING,), 0.12),
    ("沿街商铺", "shop", (ZonePurpose.SHOPFRONT,), 0.14),
    ("路口", "road", (ZonePurpose.NO_PARKING,), 0.2),
    ("地铁站出口", "metro", (ZonePurpose.BIKE_PARKING, ZonePurpose.NO_VENDING), 0.08),
    ("小区门口", "residential", (ZonePurpose.NO_DUMPING, ZonePurpose.NO_PARKING), 0.2),
    ("河道", "river", (ZonePurpose.NO_DUMPING,), 0.08),
)
CAMERA_ID_PREFIX = (
    "31011700001320"  # GB/T 28181: centre 31011700, industry 00, type 132 (IPC), net 0
)


def _allocate(total: int, weights: np.ndarray) -> np.ndarray:
    """Split ``total`` proportionally to ``weights`` (largest remainder, exact sum)."""
    share = total * weights / weights.sum()
    counts = np.floor(share).astype(int)
    rest = total - counts.sum()
    counts[np.argsort(-(share - counts), kind="stable")[:rest]] += 1
    return counts


def _points_in(unit: Unit, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` uniform random (lon, lat) points inside a unit's polygon."""
    if count == 0:
        return np.empty((0, 2))
    minx, miny, maxx, maxy = unit.geometry.bounds
    shapely.prepare(unit.geometry)
    found: list[np.ndarray] = []
    have = 0
    while have < count:
        n = max(64, 2 * (count - have))
        xs = rng.uniform(minx, maxx, n)
        ys = rng.uniform(miny, maxy, n)
        inside = shapely.contains_xy(unit.geometry, xs, ys)
        pts = np.column_stack([xs[inside], ys[inside]])
        found.append(pts)
        have += len(pts)
    return np.concatenate(found)[:count]


def _zone(purpose: ZonePurpose, index: int, rng: np.random.Generator) -> Zone:
    """A plausible ground-level quadrilateral in the lower part of the picture."""
    x0 = rng.uniform(0.02, 0.45)
    x1 = rng.uniform(x0 + 0.25, 0.98)
    y0 = rng.uniform(0.45, 0.7)
    skew = rng.uniform(-0.05, 0.05)

    def clamp(v: float) -> float:
        return round(min(max(v, 0.0), 1.0), 3)

    polygon = (
        (clamp(x0 + skew), round(y0, 3)),
        (clamp(x1 + skew), round(y0, 3)),
        (clamp(x1 + 0.02), 0.98),
        (clamp(x0 - 0.02), 0.98),
    )
    return Zone(f"z{index}", purpose, polygon)


def generate_cameras(grid: GridIndex, count: int, seed: int = 7) -> list[CameraRecord]:
    """``count`` cameras spread over the grid's streets, deterministic from ``seed``."""
    rng = np.random.default_rng(seed)
    streets = sorted(
        (u for u in grid.units.values() if u.level == Level.STREET), key=lambda u: u.code
    )
    areas = np.array([u.geometry.area for u in streets])
    weights = areas * np.array([DENSITY.get(u.kind or "town", 1.0) for u in streets])
    per_street = _allocate(count, weights)
    site_p = np.array([s[3] for s in SITES])
    site_p = site_p / site_p.sum()
    points = np.concatenate(
        [_points_in(u, int(n), rng) for u, n in zip(streets, per_street, strict=True)]
    )
    street_of = np.repeat(np.arange(len(streets)), per_street)
    grid_codes = grid.locate_many(points[:, 0], points[:, 1])
    records: list[CameraRecord] = []
    for i, ((lon, lat), k, code) in enumerate(zip(points, street_of, grid_codes, strict=True)):
        if code is None:  # on the district's outer edge: cannot be placed, leave it out
            continue
        community = grid.units[grid.units[code].parent or code]
        site = SITES[int(rng.choice(len(SITES), p=site_p))]
        records.append(_camera(i + 1, streets[k], community, float(lon), float(lat), site, rng))
    return records


def _camera(
    serial: int,
    street: Unit,
    community: Unit,
    lon: float,
    lat: float,
    site: tuple[str, str, tuple[ZonePurpose, ...], float],
    rng: np.random.Generator,
) -> CameraRecord:
    suffix, tag, purposes, _ = site
    host = f"10.{int(street.code[-3:]) % 250}.{(serial // 250) % 250}.{serial % 250 + 2}"
    password = "".join(rng.choice(list("abcdefghjkmnpqrstuvwxyz23456789"), 10))
    base = f"rtsp://admin:{password}@{host}:554/Streaming/Channels"
    zones = tuple(_zone(p, i + 1, rng) for i, p in enumerate(purposes) if rng.random() < 0.85)
    return CameraRecord(
        camera_id=f"{CAMERA_ID_PREFIX}{serial:06d}",
        name=f"{street.name}{community.name}{suffix}{serial % 100 + 1}号",
        main_url=f"{base}/101",
        sub_url=f"{base}/102",
        lon=round(lon, 6),
        lat=round(lat, 6),
        enabled=bool(rng.random() > 0.02),
        analysis_interval_s=1.0 if rng.random() < 0.7 else 2.0,
        zones=zones,
        tags=(tag,),
    )
