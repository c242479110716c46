"""Open311 GeoReport v2 read endpoints: services (event types) and requests (cases).

https://wiki.open311.org/GeoReport_v2 — JSON only. A case is ``open`` until it is closed
or rejected. ``expected_datetime`` is the deadline of the case's current stage,
``address`` its grid path, ``lat``/``long`` its camera's position and ``media_url`` its
newest evidence image. Datetimes are ISO 8601 with the offset. Like every route here,
these need a session or an API token (a city tool sends ``Authorization: Bearer``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, select

from aggregator.cases_cli import _iso, events_by_case
from aggregator.event_types import EventTypes
from aggregator.models import CASES, TRANSITIONS
from aggregator.web.api.cases import unix
from aggregator.web.case_views import first_image, state_name
from aggregator.web.deps import AppConfig, CurrentUser, DbSession
from aggregator.workflow import CaseRecord, CaseState
from gridwatch.db.models import CameraRow

router = APIRouter(prefix="/open311/v2", tags=["open311"])

DEFAULT_DAYS = 90  # GeoReport: without dates, the last 90 days
MAX_REQUESTS = 1000
CLOSED = (CaseState.CLOSED, CaseState.REJECTED)


class Service(BaseModel):
    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: Literal["realtime", "batch", "blackbox"]
    keywords: str
    group: str


class ServiceRequest(BaseModel):
    service_request_id: str
    status: Literal["open", "closed"]
    status_notes: str | None
    service_name: str
    service_code: str
    description: str
    agency_responsible: str
    service_notice: str
    requested_datetime: str
    updated_datetime: str
    expected_datetime: str | None
    address: str
    address_id: str
    zipcode: str | None
    lat: float | None
    long: float | None
    media_url: str | None


class RequestsQuery(BaseModel):
    """GeoReport v2 filters; unknown parameters (jurisdiction_id, api_key) are ignored."""

    model_config = ConfigDict(extra="ignore")

    service_request_id: str | None = Field(None, description="Comma-separated ids.")
    service_code: str | None = Field(None, description="Comma-separated codes.")
    start_date: datetime | None = None
    end_date: datetime | None = None
    status: str | None = Field(None, description="open, closed, or both comma-separated.")


def _error(code: int, description: str) -> JSONResponse:
    return JSONResponse([{"code": code, "description": description}], status_code=code)


@router.get("/services.json", response_model=list[Service])
def services(ctx: AppConfig, _user: CurrentUser) -> list[Service]:
    """Every event type as a service (group: the responsible department)."""
    return [
        Service(
            service_code=t.code,
            service_name=t.name_zh,
            description=t.name_en,
            metadata=False,
            type="realtime",
            keywords=",".join([t.name_zh, t.name_en, t.kind]),
            group=t.department,
        )
        for t in ctx.event_types.spec.types
    ]


def _notes(conn: Connection, case_ids: list[int]) -> dict[int, str]:
    """The newest note of each case's timeline (empty notes skipped)."""
    t = TRANSITIONS.c
    out: dict[int, str] = {}
    rows = conn.execute(
        select(t.case_id, t.note).where(t.case_id.in_(case_ids), t.note != "").order_by(t.at, t.id)
    )
    for case_id, note in rows:
        out[case_id] = note
    return out


def _service_request(
    record: CaseRecord,
    events: list[Any],
    types: EventTypes,
    note: str | None,
    camera: Any,
    base_url: str,
) -> ServiceRequest:
    spec = types.get(record.event_code)
    closed = record.state in CLOSED
    name = state_name(record.state)
    notes = f"{name.zh} {name.en}"
    if record.reject_reason:
        notes += f" ({record.reject_reason})"
    if note:
        notes += f": {note}"
    expected = record.verify_deadline if record.state == CaseState.HANDLED else record.deadline
    image = next((first_image(e.evidence or []) for e in reversed(events) if e.evidence), None)
    return ServiceRequest(
        service_request_id=str(record.id),
        status="closed" if closed else "open",
        status_notes=notes,
        service_name=spec.name_zh,
        service_code=record.event_code,
        description=f"{spec.name_zh} / {spec.name_en}: camera {record.camera_id}, "
        f"{record.sightings} sighting(s)",
        agency_responsible=record.department or spec.department,
        service_notice="",
        requested_datetime=_iso(record.created_at) or "",
        updated_datetime=_iso(record.updated_at) or "",
        expected_datetime=None if closed else _iso(expected),
        address=record.grid_path,
        address_id=record.grid_code,
        zipcode=None,
        lat=camera.lat if camera else None,
        long=camera.lon if camera else None,
        media_url=base_url.rstrip("/") + image if image else None,
    )


def _requests(conn: Connection, rows: Sequence[Any], ctx: AppConfig, base_url: str) -> list[Any]:
    records = [CaseRecord.from_row(r) for r in rows]
    ids = [r.id for r in records if r.id is not None]
    events = events_by_case(conn, ids)
    notes = _notes(conn, ids) if ids else {}
    cameras = {
        c.camera_id: c
        for c in conn.execute(
            select(CameraRow.camera_id, CameraRow.lat, CameraRow.lon).where(
                CameraRow.camera_id.in_({r.camera_id for r in records})
            )
        )
    }
    return [
        _service_request(
            r,
            events.get(r.id or 0, []),
            ctx.event_types,
            notes.get(r.id or 0),
            cameras.get(r.camera_id),
            base_url,
        ).model_dump()
        for r in records
    ]


def _status_filter(status: str | None) -> list[str] | None:
    if not status:
        return None
    wanted = {s.strip() for s in status.split(",") if s.strip()}
    if not wanted <= {"open", "closed"}:
        raise ValueError("status is open, closed or open,closed")
    return sorted(wanted)


@router.get("/requests.json", response_model=list[ServiceRequest])
def requests(
    q: Annotated[RequestsQuery, Query()],
    request: Request,
    db: DbSession,
    ctx: AppConfig,
    _user: CurrentUser,
) -> Any:
    """Cases as service requests, newest first, at most 1000 (default: last 90 days)."""
    c = CASES.c
    query = select(CASES).order_by(c.created_at.desc(), c.id.desc()).limit(MAX_REQUESTS)
    if q.service_request_id:
        ids = [i.strip() for i in q.service_request_id.split(",")]
        if not all(i.isdigit() for i in ids):
            return _error(400, "service_request_id must be numeric ids")
        query = query.where(c.id.in_([int(i) for i in ids]))
    else:
        try:
            statuses = _status_filter(q.status)
        except ValueError as exc:
            return _error(400, str(exc))
        tz = ctx.event_types.spec.working_hours.timezone
        end = unix(q.end_date, tz) if q.end_date else None
        start = unix(q.start_date, tz) if q.start_date else None
        if start is None and end is None:
            start = ctx.clock() - DEFAULT_DAYS * 86400.0
        if start is not None:
            query = query.where(c.created_at >= start)
        if end is not None:
            query = query.where(c.created_at <= end)
        if q.service_code:
            query = query.where(c.event_code.in_([s.strip() for s in q.service_code.split(",")]))
        if statuses == ["closed"]:
            query = query.where(c.state.in_(CLOSED))
        elif statuses == ["open"]:
            query = query.where(c.state.not_in(CLOSED))
    rows = db.execute(query).all()
    return _requests(db.connection(), rows, ctx, str(request.base_url))


@router.get("/requests/{request_id}.json", response_model=list[ServiceRequest])
def one_request(
    request_id: str, request: Request, db: DbSession, ctx: AppConfig, _user: CurrentUser
) -> Any:
    """One case as a one-element list (GeoReport's shape), or a 404 error list."""
    if not request_id.isdigit():
        return _error(404, f"no service request {request_id}")
    rows = db.execute(select(CASES).where(CASES.c.id == int(request_id))).all()
    if not rows:
        return _error(404, f"no service request {request_id}")
    return _requests(db.connection(), rows, ctx, str(request.base_url))
