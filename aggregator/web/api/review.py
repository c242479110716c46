"""``/api/review-queue``: cases waiting for an operator (立案 check), best first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from aggregator.cases_cli import case_query
from aggregator.models import CASES
from aggregator.web.api.cases import count
from aggregator.web.case_views import summaries
from aggregator.web.deps import AppConfig, CurrentUser, DbSession
from aggregator.web.schemas import CaseList, ReviewFilters
from aggregator.workflow import CaseState

router = APIRouter(prefix="/api/review-queue", tags=["review"])


@router.get("", response_model=CaseList)
def review_queue(
    filters: Annotated[ReviewFilters, Query()], db: DbSession, ctx: AppConfig, _user: CurrentUser
) -> CaseList:
    """``pending_review`` cases, most confident first, then newest first."""
    query = case_query(
        state=CaseState.PENDING_REVIEW,
        code=filters.event_code,
        street=filters.street,
        camera=filters.camera,
    )
    c = CASES.c
    ordered = (
        query.order_by(None)
        .order_by(c.max_confidence.desc(), c.created_at.desc(), c.id.desc())
        .limit(filters.limit)
        .offset(filters.offset)
    )
    items = summaries(db.connection(), db.execute(ordered).all(), ctx.event_types, ctx.clock())
    return CaseList(items=items, total=count(db, query), limit=filters.limit, offset=filters.offset)
