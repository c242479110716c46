"""How cameras are shown to people and to other programs: always with masked URLs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, or_, select

from gridwatch.db.models import CameraRow
from gridwatch.secrets import mask_url


def camera_dict(row: CameraRow) -> dict[str, Any]:
    """A camera as JSON: every field, with passwords in URLs replaced by ``***``."""
    return {
        "camera_id": row.camera_id,
        "name": row.name,
        "main_url": mask_url(row.main_url),
        "sub_url": mask_url(row.sub_url),
        "lon": row.lon,
        "lat": row.lat,
        "enabled": row.enabled,
        "analysis_interval_s": row.analysis_interval_s,
        "zones": row.zones,
        "tags": row.tags,
        "grid_code": row.grid_code,
        "community_code": row.community_code,
        "street_code": row.street_code,
        "grid_path": row.grid_path,
        "updated_at": row.updated_at.isoformat() if row.updated_at else None,
    }


def camera_query(
    *,
    street: str | None = None,
    community: str | None = None,
    grid: str | None = None,
    enabled: bool | None = None,
    search: str | None = None,
) -> Select[CameraRow]:
    """Cameras filtered by street/community/grid (code, or a name in the path) and state."""
    query = select(CameraRow).order_by(CameraRow.camera_id)
    for column, value in (
        (CameraRow.street_code, street),
        (CameraRow.community_code, community),
        (CameraRow.grid_code, grid),
    ):
        if value:
            if value.isdigit():
                query = query.where(column == value)
            else:  # a name: match it inside the path "松江区 › 岳阳街道 › ..."
                query = query.where(CameraRow.grid_path.contains(f"› {value}"))
    if enabled is not None:
        query = query.where(CameraRow.enabled.is_(enabled))
    if search:
        like = f"%{search}%"
        query = query.where(or_(CameraRow.camera_id.like(like), CameraRow.name.like(like)))
    return query
