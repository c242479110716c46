"""The review queue (立案 check): pending cases, most confident and newest first.

One case at a time with its evidence picture and clip; confirm, reject with a reason or
mark as duplicate with one click or one key (c / r / d, j / k to move), and the page
moves straight on to the next case in the queue.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select

from aggregator.cases_cli import events_by_case
from aggregator.models import CASES
from aggregator.web.case_views import REVIEW_ORDER
from aggregator.web.deps import AppConfig, CurrentUser, DbSession, OperatorUser, Templates
from aggregator.web.pages.common import CASE_ROLES, can, event_name, evidence_urls, render
from aggregator.web.pages.i18n import language
from aggregator.workflow import (
    CaseNotFound,
    CaseState,
    IllegalTransition,
    RejectReason,
    transition_case,
)
from gridwatch.db.models import CameraRow

router = APIRouter()
QUEUE_LIMIT = 200


def pending_queue(db: Any) -> list[Any]:
    """Pending cases in the review order (the API's too)."""
    stmt = (
        select(CASES)
        .where(CASES.c.state == CaseState.PENDING_REVIEW)
        .order_by(*REVIEW_ORDER)
        .limit(QUEUE_LIMIT)
    )
    return list(db.execute(stmt))


def _pick(queue: list[Any], wanted: int | None) -> int:
    if wanted is not None:
        for i, row in enumerate(queue):
            if row.id == wanted:
                return i
    return 0


@router.get("/", include_in_schema=False)
def home() -> RedirectResponse:
    return RedirectResponse("/review", status_code=303)


@router.get("/review", response_class=HTMLResponse)
def review_page(
    request: Request,
    db: DbSession,
    ctx: AppConfig,
    user: CurrentUser,
    templates: Templates,
    case: int | None = None,
) -> HTMLResponse:
    """The queue with the selected (default: first) case open for a decision."""
    queue = pending_queue(db)
    lang = language(request)
    names = {row.id: event_name(ctx.event_types, row.event_code, lang) for row in queue}
    current = None
    context: dict[str, Any] = {}
    if queue:
        index = _pick(queue, case)
        current = queue[index]
        events = events_by_case(db.connection(), [current.id])[current.id]
        shown = next((e for e in reversed(events) if e.evidence), events[-1] if events else None)
        evidence: dict[str, str] = {}
        starts_first = sorted(events, key=lambda e: (e.phase == "start", e.t_event), reverse=True)
        for e in starts_first:  # the newest START's picture and clip (the find itself)
            for kind, url in evidence_urls(e).items():
                evidence.setdefault(kind, url)
        camera = db.get(CameraRow, current.camera_id)
        context = {
            "index": index,
            "prev_id": queue[index - 1].id if index > 0 else None,
            "next_id": queue[index + 1].id if index + 1 < len(queue) else None,
            "event": shown,
            "evidence": evidence,
            "camera_name": camera.name if camera is not None else current.camera_id,
            "rules": sorted({e.rule_id for e in events}),
        }
    return render(
        request,
        templates,
        "pages/review.html",
        user,
        active="review",
        queue=queue,
        names=names,
        current=current,
        may_decide=can(user, CASE_ROLES),
        reasons=[r.value for r in RejectReason if r is not RejectReason.DUPLICATE],
        **context,
    )


@router.post("/review/{case_id}", include_in_schema=False)
def decide(
    case_id: int,
    ctx: AppConfig,
    user: OperatorUser,
    decision: Annotated[str, Form()],
    reason: Annotated[str, Form()] = "",
    duplicate_of: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    next_id: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """Confirm (立案), reject with a reason, or mark as duplicate; then show the next case."""
    kwargs: dict[str, Any] = {"note": note.strip()}
    if decision == "confirm":
        target = CaseState.REGISTERED
    elif decision == "reject":
        target, kwargs["reason"] = CaseState.REJECTED, reason or RejectReason.FALSE_POSITIVE
    elif decision == "duplicate":
        if not duplicate_of.strip().isdigit():
            return RedirectResponse(f"/review?case={case_id}&msg=error.illegal&err=1", 303)
        target, kwargs["reason"] = CaseState.REJECTED, RejectReason.DUPLICATE
        kwargs["duplicate_of"] = int(duplicate_of)
    else:
        raise HTTPException(400, f"unknown decision {decision!r}: confirm, reject or duplicate")
    try:
        transition_case(
            ctx.engine, case_id, target, actor=user.username, types=ctx.event_types, **kwargs
        )
    except (IllegalTransition, CaseNotFound):
        return RedirectResponse(f"/review?case={case_id}&msg=error.illegal&err=1", 303)
    following = f"?case={next_id}" if next_id.isdigit() else ""
    return RedirectResponse(f"/review{following}", status_code=303)
