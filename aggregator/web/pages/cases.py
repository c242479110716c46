"""The cases board (filters) and a case's page: events, evidence, timeline, actions.

A case page offers only the moves the workflow allows from the case's state, and only
to a role that may move cases; every move is recorded with who, when and the note.
Evidence files are served by aggregator/web/evidence.py.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select

from aggregator.cases_cli import case_query, events_by_case
from aggregator.models import CASES, TRANSITIONS
from aggregator.web.deps import AppConfig, CurrentUser, DbSession, OperatorUser, Templates
from aggregator.web.pages.common import (
    CASE_ROLES,
    can,
    display_tz,
    event_name,
    evidence_urls,
    render,
)
from aggregator.web.pages.i18n import language
from aggregator.workflow import (
    ALLOWED,
    CaseNotFound,
    CaseRecord,
    CaseState,
    IllegalTransition,
    RejectReason,
    action_of,
    is_overdue,
    parse_target,
    transition_case,
)
from gridwatch.db.models import GridUnitRow

router = APIRouter()
BOARD_LIMIT = 500


def _day(text: str | None, tz: ZoneInfo, end: bool = False) -> float | None:
    """A ``YYYY-MM-DD`` date as the Unix time its day starts (or ends) in ``tz``."""
    if not text:
        return None
    try:
        day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=tz)
    except ValueError:
        return None
    return day.timestamp() + (86400.0 if end else 0.0)


def streets(db: Any) -> list[Any]:
    """The district's streets/towns (code, name), for filter selects."""
    stmt = select(GridUnitRow.code, GridUnitRow.name).where(GridUnitRow.level == "street")
    return list(db.execute(stmt.order_by(GridUnitRow.code)))


@router.get("/cases", response_class=HTMLResponse)
def board(
    request: Request,
    db: DbSession,
    ctx: AppConfig,
    user: CurrentUser,
    templates: Templates,
    state: str = "",
    code: str = "",
    street: str = "",
    community: str = "",
    grid: str = "",
    since: str = "",
    until: str = "",
    overdue: str = "",
) -> HTMLResponse:
    """Cases filtered by state, event type, place, time and overdue; newest first."""
    now = time.time()
    query = case_query(
        state=state or None,
        code=code or None,
        street=street or None,
        community=community.strip() or None,
        grid=grid.strip() or None,
        overdue_at=now if overdue else None,
    )
    c = CASES.c
    tz = display_tz(request)
    start, end = _day(since, tz), _day(until, tz, end=True)
    if start is not None:
        query = query.where(c.last_seen >= start)
    if end is not None:
        query = query.where(c.first_seen < end)
    query = query.order_by(None).order_by(c.id.desc()).limit(BOARD_LIMIT)
    rows = [CaseRecord.from_row(r) for r in db.execute(query)]
    lang = language(request)
    return render(
        request,
        templates,
        "pages/cases.html",
        user,
        active="cases",
        rows=rows,
        names={r.event_code: event_name(ctx.event_types, r.event_code, lang) for r in rows},
        overdue_ids={r.id for r in rows if is_overdue(r, now)},
        states=[s.value for s in CaseState],
        types=ctx.event_types.spec.types,
        streets=streets(db),
        f={
            "state": state,
            "code": code,
            "street": street,
            "community": community,
            "grid": grid,
            "since": since,
            "until": until,
            "overdue": overdue,
        },
        limit=BOARD_LIMIT,
    )


def _actions(case: CaseRecord) -> list[tuple[str, str]]:
    """(target state, action name) of the moves the workflow allows from here."""
    current = CaseState(case.state)
    return [(str(target), action_of(current, target)) for target in ALLOWED[current]]


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(
    case_id: int,
    request: Request,
    db: DbSession,
    ctx: AppConfig,
    user: CurrentUser,
    templates: Templates,
) -> HTMLResponse:
    """One case: facts, every event with its evidence, the timeline and the open actions."""
    row = db.execute(select(CASES).where(CASES.c.id == case_id)).first()
    if row is None:
        raise HTTPException(404, f"no case {case_id}")
    case = CaseRecord.from_row(row)
    events = events_by_case(db.connection(), [case_id])[case_id]
    t = TRANSITIONS.c
    steps = list(db.execute(select(TRANSITIONS).where(t.case_id == case_id).order_by(t.at, t.id)))
    lang = language(request)
    return render(
        request,
        templates,
        "pages/case.html",
        user,
        active="cases",
        case=case,
        name=event_name(ctx.event_types, case.event_code, lang),
        overdue=is_overdue(case, time.time()),
        events=[(e, evidence_urls(e)) for e in events],
        steps=steps,
        actions=_actions(case) if can(user, CASE_ROLES) else [],
        reasons=[r.value for r in RejectReason],
    )


@router.post("/cases/{case_id}/transition", include_in_schema=False)
def move(
    case_id: int,
    ctx: AppConfig,
    user: OperatorUser,
    target: Annotated[str, Form()],
    note: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    duplicate_of: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """Move the case (dispatch, handled, verify, close, reopen, ...) and show it again."""
    try:
        state = parse_target(target)
        transition_case(
            ctx.engine,
            case_id,
            state,
            actor=user.username,
            types=ctx.event_types,
            note=note.strip(),
            reason=reason or None,
            duplicate_of=int(duplicate_of) if duplicate_of.strip().isdigit() else None,
        )
    except CaseNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except (IllegalTransition, ValueError):
        return RedirectResponse(f"/cases/{case_id}?msg=error.illegal&err=1", status_code=303)
    return RedirectResponse(f"/cases/{case_id}", status_code=303)
