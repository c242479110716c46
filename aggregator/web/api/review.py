"""``/api/review-queue``: cases waiting for an operator (立案 check), best first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from aggregator.cases_cli import case_query
from aggregator.web.api.cases import count
from aggregator.web.case_views import REVIEW_ORDER, summaries
from aggregator.web.deps import AppConfig, CurrentUser, DbSession
from aggregator.web.schemas import CaseList, ReviewFilters
from aggregator.workflow import CaseState

router = APIRouter(prefix="/api/review-queue", tags=["review"])


@router.get("", response_model=CaseList)
def review_queue(
    filters: Annotated[ReviewFilters, Query()], db: DbSession, ctx: AppConfig, _user: CurrentUser
) -> CaseList:
    """``pending_review`` cases in the review order (most confident, then most recently
    seen), as the review page shows them."""
    query = case_query(
        state=CaseState.PENDING_REVIEW,
        code=filters.event_code,
        street=filters.street,
        camera=filters.camera,
    )
    ordered = (
        query.order_by(None).order_by(*REVIEW_ORDER).limit(filters.limit).offset(filters.offset)
    )
    items = summaries(db.connection(), db.execute(ordered).all(), ctx.event_types, ctx.clock())
    return CaseList(items=items, total=count(db, query), limit=filters.limit, offset=filters.offset)
