"""Put the grid and the cameras into the database, and read them back.

Imports are all-or-nothing: one transaction, committed only when every row is valid (or
``skip_invalid`` was asked for). Re-importing the same file changes nothing; changed
rows are updated in place (upsert by camera id) and ``prune`` disables the cameras that
are no longer listed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import Engine, Table, func, insert, select, update
from sqlalchemy.orm import Session

from gridwatch.db.engine import session_scope
from gridwatch.db.models import Base, CameraRow, GridUnitRow
from gridwatch.grid.model import GridIndex, Level
from gridwatch.registry.csvfile import RowError
from gridwatch.registry.schema import COLUMNS, CameraRecord

BATCH = 5000


class ImportAborted(Exception):
    """Nothing was imported because of the listed problems.

    Recover by fixing the rows (each error names line, column and reason), or pass
    ``--skip-invalid`` to import the valid rows only.
    """

    def __init__(self, errors: Sequence[RowError], message: str = "") -> None:
        self.errors = list(errors)
        super().__init__(message or f"{len(self.errors)} problem(s); nothing was imported")


@dataclass
class ImportReport:
    """What an import did (or, after a refusal, would have had to do)."""

    rows: int = 0
    valid: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    disabled_by_prune: int = 0
    skipped_invalid: int = 0
    errors: list[RowError] = field(default_factory=list)


# --------------------------------------------------------------------------- the grid


def grid_from_db(session: Session) -> GridIndex | None:
    """The grid stored in the database, or None when no grid was imported yet."""
    rows = session.scalars(select(GridUnitRow)).all()
    if not rows:
        return None
    features = [
        {
            "type": "Feature",
            "geometry": row.geometry,
            "properties": {
                "code": row.code,
                "name": row.name,
                "level": row.level,
                "parent": row.parent_code,
                "kind": row.kind,
            },
        }
        for row in rows
    ]
    return GridIndex.from_geojson({"type": "FeatureCollection", "features": features})


def store_grid(engine: Engine, grid: GridIndex) -> tuple[int, int]:
    """Replace the stored grid with ``grid`` and re-place every camera in it.

    Returns (units stored, cameras re-placed). Raises :class:`ImportAborted` and stores
    nothing if a registered camera would fall outside the new grid.
    """
    with session_scope(engine) as session:
        geojson = grid.to_geojson()
        geometry = {f["properties"]["code"]: f["geometry"] for f in geojson["features"]}
        existing = set(session.scalars(select(GridUnitRow.code)))
        rows = [
            {
                "code": unit.code,
                "name": unit.name,
                "level": unit.level.value,
                "kind": unit.kind,
                "parent_code": unit.parent,
                "path": grid.path_names(unit.code),
                "geometry": geometry[unit.code],
            }
            for unit in grid.units.values()
        ]
        new = [r for r in rows if r["code"] not in existing]
        old = [r for r in rows if r["code"] in existing]
        if new:
            session.execute(insert(GridUnitRow), new)
        if old:
            session.execute(update(GridUnitRow), old)
        moved = _replace_cameras(session, grid)
        stale = existing - set(grid.units)
        for chunk in _chunks(sorted(stale), BATCH):
            session.query(GridUnitRow).filter(GridUnitRow.code.in_(chunk)).delete(
                synchronize_session=False
            )
        return len(rows), moved


def _replace_cameras(session: Session, grid: GridIndex) -> int:
    cams = session.execute(select(CameraRow.camera_id, CameraRow.lon, CameraRow.lat)).all()
    if not cams:
        return 0
    codes = grid.locate_many(
        np.array([c.lon for c in cams], dtype=float), np.array([c.lat for c in cams], dtype=float)
    )
    outside = [c.camera_id for c, code in zip(cams, codes, strict=True) if code is None]
    if outside:
        shown = ", ".join(outside[:10]) + (" ..." if len(outside) > 10 else "")
        raise ImportAborted(
            [], f"{len(outside)} registered camera(s) would be outside the new grid: {shown}"
        )
    updates = [
        {"camera_id": c.camera_id, **placement(grid, code)}
        for c, code in zip(cams, codes, strict=True)
    ]
    for chunk in _chunks(updates, BATCH):
        session.execute(update(CameraRow), chunk)
    return len(updates)


def placement(grid: GridIndex, grid_code: str) -> dict[str, str]:
    """The grid code, its community and street codes, and the full path of names."""
    path = grid.path(grid_code)
    by_level = {unit.level: unit.code for unit in path}
    return {
        "grid_code": grid_code,
        "community_code": by_level[Level.COMMUNITY],
        "street_code": by_level[Level.STREET],
        "grid_path": grid.path_names(grid_code),
    }


# --------------------------------------------------------------------------- cameras


def locate_records(
    grid: GridIndex, records: Sequence[CameraRecord]
) -> tuple[list[tuple[CameraRecord, str]], list[RowError]]:
    """Place each record in its grid; records outside the grid become errors."""
    if not records:
        return [], []
    lons = np.fromiter((r.lon for r in records), dtype=float, count=len(records))
    lats = np.fromiter((r.lat for r in records), dtype=float, count=len(records))
    codes = grid.locate_many(lons, lats)
    placed: list[tuple[CameraRecord, str]] = []
    errors: list[RowError] = []
    for record, code in zip(records, codes, strict=True):
        if code is None:
            errors.append(
                RowError(
                    record.line, "lon,lat", f"({record.lon}, {record.lat}) is outside the grid"
                )
            )
        else:
            placed.append((record, str(code)))
    return placed, errors


def _camera_values(record: CameraRecord, place: dict[str, str], now: datetime) -> dict[str, Any]:
    return {
        "camera_id": record.camera_id,
        "name": record.name,
        "main_url": record.main_url,
        "sub_url": record.sub_url,
        "lon": record.lon,
        "lat": record.lat,
        "enabled": record.enabled,
        "analysis_interval_s": record.analysis_interval_s,
        "zones": record.zones_json(),
        "tags": list(record.tags),
        "fingerprint": record.fingerprint,
        "updated_at": now,
        **place,
    }


_json_string = json.encoder.encode_basestring_ascii
# The registry columns in file order, then what the import derives for each camera.
_INSERT_COLUMNS = (
    *COLUMNS,
    "fingerprint",
    "grid_code",
    "community_code",
    "street_code",
    "grid_path",
    "created_at",
    "updated_at",
)


def _insert_cameras(
    session: Session,
    fresh: Sequence[tuple[CameraRecord, dict[str, str]]],
    now: datetime,
    progress: Callable[[int], None] | None,
) -> None:
    """INSERT new cameras in chunks; on SQLite straight through the driver's executemany.

    SQLAlchemy's per-row work (a dict per row, JSON and datetime processing) was most of
    an import of 200,000 cameras; SQLite needs only the JSON as text and the datetime in
    SQLAlchemy's own storage format, computed once.
    """
    conn = session.connection()
    table = Table("cameras", Base.metadata)
    if conn.dialect.name != "sqlite":
        for chunk in _chunks(fresh, BATCH):
            rows = [{**_camera_values(r, p, now), "created_at": now} for r, p in chunk]
            conn.execute(insert(table), rows)  # Core insert: no ORM bookkeeping per row
            if progress:
                progress(len(chunk))
        return
    stamp = table.c.created_at.type.bind_processor(conn.dialect)
    at = stamp(now) if stamp is not None else now
    marks = ", ".join("?" * len(_INSERT_COLUMNS))
    sql = f"INSERT INTO cameras ({', '.join(_INSERT_COLUMNS)}) VALUES ({marks})"
    for chunk in _chunks(fresh, BATCH):
        values = [
            (
                r.camera_id,
                r.name,
                r.main_url,
                r.sub_url,
                r.lon,
                r.lat,
                1 if r.enabled else 0,
                r.analysis_interval_s,
                r.zones_cell or "[]",
                "[" + ",".join(map(_json_string, r.tags)) + "]",
                r.fingerprint,
                p["grid_code"],
                p["community_code"],
                p["street_code"],
                p["grid_path"],
                at,
                at,
            )
            for r, p in chunk
        ]
        conn.exec_driver_sql(sql, values)
        if progress:
            progress(len(chunk))


def upsert_cameras(
    engine: Engine,
    grid: GridIndex,
    placed: Sequence[tuple[CameraRecord, str]],
    *,
    prune: bool = False,
    protect: set[str] | None = None,
    report: ImportReport | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Insert new cameras, update changed ones, leave identical ones; one transaction.

    With ``prune``, cameras not in ``placed`` are disabled, except those in ``protect``
    (ids that the file lists on rows that were invalid: a typo must not switch a camera
    off).
    """
    report = report or ImportReport()
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        known = {
            cid: fp
            for cid, fp in session.execute(select(CameraRow.camera_id, CameraRow.fingerprint))
        }
        fresh: list[tuple[CameraRecord, dict[str, str]]] = []
        updates: list[dict[str, Any]] = []
        places: dict[str, dict[str, str]] = {}  # per grid code: a city has ~1,300 grids
        for record, code in placed:
            old = known.get(record.camera_id)
            if old == record.fingerprint:
                report.unchanged += 1
                continue
            place = places.get(code)
            if place is None:
                place = places[code] = placement(grid, code)
            if old is None:
                fresh.append((record, place))
            else:
                updates.append(_camera_values(record, place, now))
        _insert_cameras(session, fresh, now, progress)
        for chunk in _chunks(updates, BATCH):
            session.execute(update(CameraRow), chunk)
            if progress:
                progress(len(chunk))
        report.inserted += len(fresh)
        report.updated += len(updates)
        if prune:
            listed = {record.camera_id for record, _ in placed} | (protect or set())
            gone = [cid for cid in known if cid not in listed]
            for chunk in _chunks(gone, BATCH):
                result = session.execute(
                    update(CameraRow)
                    .where(CameraRow.camera_id.in_(chunk), CameraRow.enabled.is_(True))
                    .values(enabled=False, updated_at=now, fingerprint="pruned")
                )
                report.disabled_by_prune += result.rowcount  # type: ignore[attr-defined]
    return report


def count_cameras(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(CameraRow)) or 0


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
