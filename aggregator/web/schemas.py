"""Request and response models of the JSON API (Open311 has its own, in api/open311.py).

Request models forbid unknown fields; response models say exactly what leaves the
server (camera URLs only ever masked). Times are ISO 8601 strings with the offset
(Asia/Shanghai), as in ``gridwatch cases --json``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from aggregator.workflow import RejectReason, parse_target


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Name(BaseModel):
    zh: str
    en: str


# --------------------------------------------------------------------------- cases

CaseSort = Literal[
    "id", "-id", "created_at", "-created_at", "updated_at", "-updated_at", "last_seen",
    "-last_seen", "max_confidence", "-max_confidence", "deadline", "-deadline",
]  # fmt: skip


class CaseFilters(Request):
    """Query parameters of ``GET /api/cases`` (a place is a code or a name in the path)."""

    state: str | None = None
    event_code: str | None = None
    street: str | None = None
    community: str | None = None
    grid: str | None = None
    camera: str | None = None
    since: datetime | None = Field(None, description="Opened at or after (ISO 8601).")
    until: datetime | None = Field(None, description="Opened before (ISO 8601).")
    overdue: bool = False
    sort: CaseSort = "-created_at"
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)


class ReviewFilters(Request):
    """Query parameters of ``GET /api/review-queue``."""

    event_code: str | None = None
    street: str | None = None
    camera: str | None = None
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)


class CaseSummary(BaseModel):
    case_id: int
    kind: str
    event_code: str
    event_name: Name
    state: str
    state_name: Name
    department: str | None
    grid_code: str
    community_code: str
    street_code: str
    grid_path: str
    camera_ids: list[str]
    first_seen: str | None
    last_seen: str | None
    sightings: int
    max_confidence: float
    deadline: str | None
    verify_deadline: str | None
    overdue: bool
    reject_reason: str | None
    duplicate_of: int | None
    reopen_count: int
    created_at: str | None
    updated_at: str | None
    thumbnail_url: str | None = Field(description="Newest evidence image of the case.")


class CaseList(BaseModel):
    items: list[CaseSummary]
    total: int
    limit: int
    offset: int


class EventOut(BaseModel):
    event_id: str
    incident_id: str
    phase: str
    camera_id: str
    rule_id: str
    t_event: str | None
    confidence: float
    boxes: list[Any]
    zone_id: str | None
    evidence_urls: list[str]


class TransitionOut(BaseModel):
    at: str | None
    actor: str
    action: str
    from_state: str | None
    to_state: str
    note: str
    reason: str | None


class CaseDetail(CaseSummary):
    events: list[EventOut] = Field(description="The newest 200 events, oldest first.")
    events_total: int
    timeline: list[TransitionOut]
    allowed_next: list[str] = Field(description="States the caller may move the case to.")
    lat: float | None
    lon: float | None


class TransitionIn(Request):
    """Body of ``POST /api/cases/{id}/transitions``; ``reopened`` means dispatched again."""

    state: str
    note: str = Field("", max_length=2000)
    reason: RejectReason | None = None
    duplicate_of: int | None = Field(None, ge=1)

    @field_validator("state")
    @classmethod
    def _known(cls, value: str) -> str:
        return str(parse_target(value))


class TransitionResult(BaseModel):
    transition: TransitionOut
    case: CaseDetail


# --------------------------------------------------------------------------- cameras


class CameraFilters(Request):
    search: str | None = Field(None, max_length=100, description="In camera id or name.")
    street: str | None = None
    community: str | None = None
    grid: str | None = None
    enabled: bool | None = None
    health: str | None = Field(None, description="online, offline, ... or 'unknown'.")
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0)


class CameraHealth(BaseModel):
    state: str
    reason: str | None
    node_id: str
    last_frame_at: str | None
    last_heartbeat_at: str | None
    since: str | None
    maintenance_case_id: int | None


class CameraOut(BaseModel):
    camera_id: str
    name: str
    main_url: str = Field(description="Password masked as ***.")
    sub_url: str = Field(description="Password masked as ***.")
    lon: float
    lat: float
    enabled: bool
    analysis_interval_s: float
    zones: list[Any]
    tags: list[Any]
    grid_code: str
    community_code: str
    street_code: str
    grid_path: str
    updated_at: str | None
    health: CameraHealth | None
    open_cases: int


class CameraList(BaseModel):
    items: list[CameraOut]
    total: int
    limit: int
    offset: int


class CameraPatch(Request):
    """Body of ``PATCH /api/cameras/{id}``: only what is given changes."""

    enabled: bool | None = None
    zones: list[dict[str, Any]] | None = Field(
        None, description='[{"id", "purpose", "polygon": [[x, y], ...]}], 0..1 image coords.'
    )
    analysis_interval_s: float | None = Field(None, gt=0, le=3600)


# --------------------------------------------------------------------------- event types


class EventTypeOut(BaseModel):
    code: str
    kind: str
    name: Name
    department: str
    handle_hours: float
    verify_hours: float
    urgent: bool


class StateOut(BaseModel):
    state: str
    name: Name
    allowed_next: list[str]


# --------------------------------------------------------------------------- session


class SessionOut(BaseModel):
    username: str
    role: str
    role_name: Name
    via: str
    csrf_token: str = Field(description="Send as X-CSRF-Token with session-cookie writes.")
