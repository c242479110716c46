"""The camera registry with live health, and a camera's page with its zone editor.

Health comes from ``camera_status`` (the edge agents' heartbeats). A camera page shows
its latest picture: the newest evidence JPEG of that camera, else one keyframe grabbed
from its stream on demand (PyAV, with timeouts, cached a minute). Stream URLs never
reach a page: only ``camera_dict``'s masked form is ever rendered.

Engineers draw zones over the picture and save them, or switch the camera on and off,
through the API's ``PATCH /api/cameras/{id}`` (JSON, ``X-CSRF-Token`` header; see
aggregator/web/api/cameras.py): it validates the zones and bumps the registry row, which
the edge agents re-read without a restart.

The page also lists the false positives the camera has learnt from operators'
rejections (aggregator/suppression.py) with how many events each held back; an
engineer lifts one with one click.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from aggregator import suppression
from aggregator.models import CAMERA_STATUS, EVENTS, CaseRow
from aggregator.web.deps import AppConfig, CurrentUser, DbSession, EngineerUser, Templates
from aggregator.web.evidence import resolve_evidence
from aggregator.web.pages.common import ZONE_ROLES, can, render
from aggregator.workflow import OPEN_STATES
from gridwatch.db.models import CameraRow
from gridwatch.registry.views import camera_dict, camera_query
from gridwatch.registry.zones import ZonePurpose

router = APIRouter()
HEALTH_STATES = ("online", "connecting", "stalled", "offline", "auth_failed", "unknown")
LIST_LIMIT = 500
SNAPSHOT_TTL_S = 60.0
GRAB_TIMEOUT_S = 5.0
_grabbed: dict[str, tuple[float, bytes | None]] = {}
_grab_lock = threading.Lock()


def _health(db: Any, ids: list[str]) -> dict[str, Any]:
    if not ids:
        return {}
    rows = db.execute(select(CAMERA_STATUS).where(CAMERA_STATUS.c.camera_id.in_(ids)))
    return {row.camera_id: row for row in rows}


@router.get("/cameras", response_class=HTMLResponse)
def camera_list(
    request: Request,
    db: DbSession,
    user: CurrentUser,
    templates: Templates,
    q: str = "",
    street: str = "",
    health: str = "",
    enabled: str = "",
) -> HTMLResponse:
    """The registry (masked URLs) with each camera's health; search and filters."""
    from aggregator.web.pages.cases import streets

    on = {"1": True, "0": False}.get(enabled)
    query = camera_query(street=street or None, enabled=on, search=q.strip() or None)
    cameras = list(db.execute(query.limit(LIST_LIMIT)).scalars())
    status = _health(db, [c.camera_id for c in cameras])
    if health:
        cameras = [
            c
            for c in cameras
            if (status[c.camera_id].state if c.camera_id in status else "unknown") == health
        ]
    return render(
        request,
        templates,
        "pages/cameras.html",
        user,
        active="cameras",
        cameras=[camera_dict(c) for c in cameras],
        status=status,
        streets=streets(db),
        health_states=HEALTH_STATES,
        f={"q": q, "street": street, "health": health, "enabled": enabled},
        limit=LIST_LIMIT,
    )


def _camera(db: Any, camera_id: str) -> CameraRow:
    camera = db.get(CameraRow, camera_id)
    if camera is None:
        raise HTTPException(404, f"no camera {camera_id}")
    return camera


@router.get("/cameras/{camera_id}", response_class=HTMLResponse)
def camera_page(
    camera_id: str,
    request: Request,
    db: DbSession,
    ctx: AppConfig,
    user: CurrentUser,
    templates: Templates,
) -> HTMLResponse:
    """One camera: picture with its zones (editable by engineers), health, open cases,
    learnt suppressions (liftable by engineers)."""
    camera = _camera(db, camera_id)
    status_row = _health(db, [camera_id]).get(camera_id)
    c = CaseRow
    open_cases = list(
        db.execute(
            select(c)
            .where(c.camera_id == camera_id, c.state.in_([str(s) for s in OPEN_STATES]))
            .order_by(c.id.desc())
            .limit(20)
        ).scalars()
    )
    return render(
        request,
        templates,
        "pages/camera.html",
        user,
        active="cameras",
        camera=camera_dict(camera),
        status=status_row,
        zones_json=json.dumps(camera.zones or [], ensure_ascii=False).replace("<", "\\u003c"),
        purposes=[p.value for p in ZonePurpose],
        may_edit=can(user, ZONE_ROLES),
        open_cases=open_cases,
        suppressions=suppression.of_camera(
            db.connection(), camera_id, ctx.clock(), ctx.settings.aggregator.suppression
        ),
        now=time.time(),
        outbox=outbox_view(db, status_row),
    )


@router.post("/cameras/{camera_id}/suppressions/{suppression_id}/lift", include_in_schema=False)
def lift(
    camera_id: str, suppression_id: int, ctx: AppConfig, user: EngineerUser
) -> RedirectResponse:
    """An engineer lifts a learnt suppression; back to the camera page."""
    lifted = suppression.lift(ctx.engine, suppression_id, actor=user.username, at=ctx.clock())
    if lifted is None or lifted.camera_id != camera_id:
        raise HTTPException(404, f"no suppression {suppression_id} on camera {camera_id}")
    return RedirectResponse(f"/cameras/{camera_id}?msg=camera.lifted_msg", status_code=303)


def _size(n: int | None) -> str:
    """1234567 → '1.2 MB' (decimal units, as disks are sold)."""
    if n is None:
        return "-"
    value, unit = float(n), "B"
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            break
        value /= 1000
    return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"


def outbox_view(db: Any, status: Any) -> dict[str, Any] | None:
    """The camera's node's outbox (fill, bound) and the evidence dropped for it."""
    from aggregator.nodes import node_row

    if status is None:
        return None
    node = node_row(db.connection(), status.node_id)
    if node is None or node.outbox_bytes is None:
        return None
    return {
        "node_id": node.node_id,
        "events": node.outbox_events,
        "used": _size(node.outbox_bytes),
        "limit": _size(node.outbox_max_bytes) if node.outbox_max_bytes else "-",
        "camera_clips": status.dropped_clips,
        "camera_images": status.dropped_images,
        "node_clips": node.dropped_clips,
        "node_images": node.dropped_images,
    }


def latest_evidence_jpeg(db: Any, ctx: Any, camera_id: str) -> bytes | None:
    """The newest evidence JPEG this camera sent, if any is still on disk: its clean
    frame where it has one (nothing drawn over the zones being edited)."""
    e = EVENTS.c
    stmt = select(e.evidence).where(e.camera_id == camera_id).order_by(e.t_event.desc()).limit(20)
    for (paths,) in db.execute(stmt):
        for path in sorted(paths or [], key=lambda p: not str(p).endswith("/frame.jpg")):
            if str(path).endswith(".jpg"):
                file = resolve_evidence(ctx.evidence_dir, str(path))
                if file is not None:
                    return file.read_bytes()
    return None


def grab_keyframe(url: str, timeout_s: float = GRAB_TIMEOUT_S) -> bytes | None:
    """One keyframe of the stream as JPEG, or None (errors are not shown: they hold URLs)."""
    try:
        import av
        import cv2
    except ImportError:
        return None
    options = {"rtsp_transport": "tcp", "stimeout": str(int(timeout_s * 1e6))}
    try:
        with av.open(url, options=options, timeout=(timeout_s, timeout_s)) as container:
            stream = container.streams.video[0]
            stream.codec_context.skip_frame = "NONKEY"
            for frame in container.decode(stream):
                ok, data = cv2.imencode(".jpg", frame.to_ndarray(format="bgr24"))
                return bytes(data) if ok else None
    except Exception:  # av.error.*, timeouts: the page shows "no picture"
        return None
    return None


def _grabbed_snapshot(camera: CameraRow) -> bytes | None:
    now = time.monotonic()
    with _grab_lock:
        cached = _grabbed.get(camera.camera_id)
        if cached is not None and now - cached[0] < SNAPSHOT_TTL_S:
            return cached[1]
    data = grab_keyframe(camera.sub_url or camera.main_url)
    with _grab_lock:
        _grabbed[camera.camera_id] = (now, data)
    return data


@router.get("/cameras/{camera_id}/snapshot.jpg")
def snapshot(camera_id: str, db: DbSession, ctx: AppConfig, user: CurrentUser) -> Response:
    """The latest picture: newest evidence JPEG, else a keyframe from the stream."""
    camera = _camera(db, camera_id)
    data = latest_evidence_jpeg(db, ctx, camera_id) or _grabbed_snapshot(camera)
    if data is None:
        raise HTTPException(404, "no picture of this camera yet")
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=60"})
