"""``/api/cameras``: the registry with live health; engineers switch cameras and edit zones.

URLs always go through :func:`gridwatch.registry.views.camera_dict` (passwords masked),
and the health reason through :func:`gridwatch.secrets.redact`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy import Select, func, select

from aggregator.cases_cli import _iso
from aggregator.models import CameraStatusRow, CaseRow
from aggregator.web.deps import AppConfig, CurrentUser, DbSession, EngineerUser
from aggregator.web.schemas import CameraFilters, CameraHealth, CameraList, CameraOut, CameraPatch
from aggregator.workflow import CaseState
from gridwatch.db.models import CameraRow
from gridwatch.registry.views import camera_dict, camera_query
from gridwatch.registry.zones import ZoneError, parse_zones
from gridwatch.secrets import redact

router = APIRouter(prefix="/api/cameras", tags=["cameras"])

CLOSED_STATES = (CaseState.CLOSED, CaseState.REJECTED)


def _health(status: CameraStatusRow | None) -> CameraHealth | None:
    if status is None:
        return None
    return CameraHealth(
        state=status.state,
        reason=redact(status.reason) if status.reason else None,
        node_id=status.node_id,
        last_frame_at=_iso(status.last_frame_at),
        last_heartbeat_at=_iso(status.last_heartbeat_at),
        since=_iso(status.since),
        maintenance_case_id=status.maintenance_case_id,
    )


def _open_cases(db: DbSession, camera_ids: list[str]) -> dict[str, int]:
    if not camera_ids:
        return {}
    rows = db.execute(
        select(CaseRow.camera_id, func.count())
        .where(CaseRow.camera_id.in_(camera_ids), CaseRow.state.not_in(CLOSED_STATES))
        .group_by(CaseRow.camera_id)
    )
    return {camera: int(n) for camera, n in rows}


def camera_out(row: CameraRow, status: CameraStatusRow | None, open_cases: int) -> CameraOut:
    return CameraOut(**camera_dict(row), health=_health(status), open_cases=open_cases)


def _filtered(filters: CameraFilters) -> Select[Any]:
    query: Select[Any] = camera_query(
        street=filters.street,
        community=filters.community,
        grid=filters.grid,
        enabled=filters.enabled,
        search=filters.search,
    )
    query = query.add_columns(CameraStatusRow).outerjoin(
        CameraStatusRow, CameraStatusRow.camera_id == CameraRow.camera_id
    )
    if filters.health == "unknown":
        query = query.where(CameraStatusRow.camera_id.is_(None))
    elif filters.health:
        query = query.where(CameraStatusRow.state == filters.health)
    return query


@router.get("", response_model=CameraList)
def list_cameras(
    filters: Annotated[CameraFilters, Query()], db: DbSession, _user: CurrentUser
) -> CameraList:
    """Registered cameras with their health (``health=unknown``: never heard from)."""
    query = _filtered(filters)
    total = db.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = db.execute(query.limit(filters.limit).offset(filters.offset)).all()
    counts = _open_cases(db, [r[0].camera_id for r in rows])
    items = [camera_out(r[0], r[1], counts.get(r[0].camera_id, 0)) for r in rows]
    return CameraList(items=items, total=int(total), limit=filters.limit, offset=filters.offset)


def _load(db: DbSession, camera_id: str) -> tuple[CameraRow, CameraStatusRow | None]:
    row = db.get(CameraRow, camera_id)
    if row is None:
        raise HTTPException(404, f"no camera {camera_id!r}")
    return row, db.get(CameraStatusRow, camera_id)


@router.get("/{camera_id}", response_model=CameraOut)
def get_camera(camera_id: str, db: DbSession, _user: CurrentUser) -> CameraOut:
    row, status = _load(db, camera_id)
    return camera_out(row, status, _open_cases(db, [camera_id]).get(camera_id, 0))


@router.patch("/{camera_id}", response_model=CameraOut)
def patch_camera(
    camera_id: str, body: CameraPatch, db: DbSession, _ctx: AppConfig, _user: EngineerUser
) -> CameraOut:
    """Switch a camera on/off, replace its zones or its analysis interval (engineer role).

    A change bumps ``updated_at`` and the fingerprint, so edge agents pick it up on their
    next registry poll (and a later CSV import of the registry wins again).
    """
    row, status = _load(db, camera_id)
    changes: dict[str, Any] = body.model_dump(exclude_unset=True, exclude_none=True)
    if "zones" in changes:
        try:
            zones = parse_zones(json.dumps(changes["zones"]))
        except ZoneError as exc:
            raise HTTPException(422, f"invalid zones: {exc}") from None
        changes["zones"] = [z.to_dict() for z in zones]
    for key, value in changes.items():
        setattr(row, key, value)
    if changes:
        row.updated_at = datetime.now(UTC)
        row.fingerprint = "web-" + row.updated_at.strftime("%Y%m%d%H%M%S%f")[:28]
    db.commit()
    return camera_out(row, status, _open_cases(db, [camera_id]).get(camera_id, 0))
