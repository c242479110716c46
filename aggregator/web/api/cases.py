"""``/api/cases``: list, show and move cases through the workflow."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy import Select, func, select

from aggregator.cases_cli import case_query
from aggregator.models import CASES
from aggregator.web.case_views import case_detail, summaries, transition_out
from aggregator.web.deps import AppConfig, CurrentUser, DbSession, OperatorUser
from aggregator.web.schemas import CaseDetail, CaseFilters, CaseList, TransitionIn, TransitionResult
from aggregator.workflow import CaseNotFound, CaseState, IllegalTransition, transition_case

router = APIRouter(prefix="/api/cases", tags=["cases"])


def unix(moment: datetime, tz: str) -> float:
    """A datetime as Unix seconds; a naive one is read in the working-hours time zone."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(tz))
    return moment.timestamp()


def page(query: Select[Any], sort: str, limit: int, offset: int) -> Select[Any]:
    """``query`` ordered by ``sort`` (``-`` for descending, ties by id) and paged."""
    column = CASES.c[sort.lstrip("-")]
    descending = sort.startswith("-")
    order = column.desc() if descending else column.asc()
    tie = CASES.c.id.desc() if descending else CASES.c.id.asc()
    return query.order_by(None).order_by(order, tie).limit(limit).offset(offset)


def count(db: DbSession, query: Select[Any]) -> int:
    total = db.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    return int(total or 0)


@router.get("", response_model=CaseList)
def list_cases(
    filters: Annotated[CaseFilters, Query()], db: DbSession, ctx: AppConfig, _user: CurrentUser
) -> CaseList:
    """Cases matching the filters (``overdue``: past the deadline of their stage)."""
    now = ctx.clock()
    if filters.state is not None and filters.state not in {str(s) for s in CaseState}:
        raise HTTPException(422, f"unknown state {filters.state!r}")
    query = case_query(
        state=filters.state,
        code=filters.event_code,
        street=filters.street,
        community=filters.community,
        grid=filters.grid,
        camera=filters.camera,
        overdue_at=now if filters.overdue else None,
    )
    tz = ctx.event_types.spec.working_hours.timezone
    if filters.since is not None:
        query = query.where(CASES.c.created_at >= unix(filters.since, tz))
    if filters.until is not None:
        query = query.where(CASES.c.created_at < unix(filters.until, tz))
    rows = db.execute(page(query, filters.sort, filters.limit, filters.offset)).all()
    items = summaries(db.connection(), rows, ctx.event_types, now)
    return CaseList(items=items, total=count(db, query), limit=filters.limit, offset=filters.offset)


@router.get("/{case_id}", response_model=CaseDetail)
def get_case(case_id: int, db: DbSession, ctx: AppConfig, user: CurrentUser) -> CaseDetail:
    """One case: events with evidence URLs, the timeline, the caller's allowed next states."""
    detail = case_detail(db.connection(), case_id, ctx.event_types, ctx.clock(), user)
    if detail is None:
        raise HTTPException(404, f"no case {case_id}")
    return detail


@router.post("/{case_id}/transitions", response_model=TransitionResult, status_code=201)
def move_case(
    case_id: int, body: TransitionIn, db: DbSession, ctx: AppConfig, user: OperatorUser
) -> TransitionResult:
    """Move a case (operator role). 409 with the reason when the workflow forbids it."""
    if db.scalar(select(CASES.c.id).where(CASES.c.id == case_id)) is None:
        raise HTTPException(404, f"no case {case_id}")
    db.rollback()  # the move runs in its own transaction (and locks the row)
    try:
        record = transition_case(
            ctx.engine,
            case_id,
            CaseState(body.state),
            actor=user.username,
            types=ctx.event_types,
            note=body.note,
            reason=body.reason,
            duplicate_of=body.duplicate_of,
            now=ctx.clock(),
        )
    except (IllegalTransition, CaseNotFound) as exc:
        raise HTTPException(409, str(exc)) from None
    detail = case_detail(db.connection(), case_id, ctx.event_types, ctx.clock(), user)
    assert detail is not None
    return TransitionResult(transition=transition_out(record), case=detail)
