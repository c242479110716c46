"""``/api/event-types`` and ``/api/states``: codes and workflow states, named in zh and en."""

from __future__ import annotations

from fastapi import APIRouter

from aggregator.web.case_views import state_name
from aggregator.web.deps import AppConfig, CurrentUser
from aggregator.web.schemas import EventTypeOut, Name, StateOut
from aggregator.workflow import ALLOWED, CaseState

router = APIRouter(tags=["event types"])


@router.get("/api/event-types", response_model=list[EventTypeOut])
def event_types(ctx: AppConfig, _user: CurrentUser) -> list[EventTypeOut]:
    """Every configured event type: names, department, time limits (working hours)."""
    return [
        EventTypeOut(
            code=t.code,
            kind=t.kind,
            name=Name(zh=t.name_zh, en=t.name_en),
            department=t.department,
            handle_hours=t.handle_hours,
            verify_hours=t.verify_hours,
            urgent=t.urgent,
        )
        for t in ctx.event_types.spec.types
    ]


@router.get("/api/states", response_model=list[StateOut])
def states(_user: CurrentUser) -> list[StateOut]:
    """The workflow's states, their names and where each may go next."""
    return [
        StateOut(state=str(s), name=state_name(s), allowed_next=[str(n) for n in ALLOWED[s]])
        for s in CaseState
    ]
