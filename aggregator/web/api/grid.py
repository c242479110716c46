"""``/api/grid``: grid units as GeoJSON, each with its count of open cases."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from sqlalchemy import func, select

from aggregator.models import CaseRow
from aggregator.web.api.cameras import CLOSED_STATES
from aggregator.web.deps import CurrentUser, DbSession
from gridwatch.db.models import GridUnitRow

router = APIRouter(prefix="/api/grid", tags=["grid"])

Level = Literal["district", "street", "community", "grid"]
_CASE_COLUMN = {
    "street": CaseRow.street_code,
    "community": CaseRow.community_code,
    "grid": CaseRow.grid_code,
}


def _open_counts(db: DbSession, level: str) -> dict[str, int]:
    if level == "district":
        total = db.scalar(select(func.count()).where(CaseRow.state.not_in(CLOSED_STATES)))
        return {"*": int(total or 0)}
    column = _CASE_COLUMN[level]
    rows = db.execute(
        select(column, func.count()).where(CaseRow.state.not_in(CLOSED_STATES)).group_by(column)
    )
    return {code: int(n) for code, n in rows}


@router.get("")
def grid_geojson(
    db: DbSession,
    _user: CurrentUser,
    level: Level = "grid",
    street: str | None = None,
) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of the units at ``level`` (``street``: code or name).

    Properties: code, name, level, kind, parent_code, path, open_cases (cases not yet
    closed or rejected).
    """
    query = select(GridUnitRow).where(GridUnitRow.level == level).order_by(GridUnitRow.code)
    if street:
        if street.isdigit():
            query = query.where(GridUnitRow.code.startswith(street))
        else:
            query = query.where(GridUnitRow.path.contains(f"› {street}"))
    counts = _open_counts(db, level)
    features = [
        {
            "type": "Feature",
            "id": unit.code,
            "geometry": unit.geometry or None,
            "properties": {
                "code": unit.code,
                "name": unit.name,
                "level": unit.level,
                "kind": unit.kind,
                "parent_code": unit.parent_code,
                "path": unit.path,
                "open_cases": counts.get("*" if level == "district" else unit.code, 0),
            },
        }
        for unit in db.scalars(query)
    ]
    return {"type": "FeatureCollection", "features": features}
