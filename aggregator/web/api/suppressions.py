"""``/api/suppressions``: the false positives each camera has learnt; engineers lift them.

A suppression is made when an operator rejects a case as a false positive or as not a
problem at this place (aggregator/suppression.py); while it is active, look-alike
events on that camera open no case (they are stored and counted as ``suppressed``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from aggregator import suppression
from aggregator.cases_cli import _iso
from aggregator.web.deps import AppConfig, CurrentUser, DbSession, EngineerUser
from aggregator.web.schemas import Request
from gridwatch.db.models import CameraRow

router = APIRouter(prefix="/api/suppressions", tags=["suppressions"])


class SuppressionFilters(Request):
    camera_id: str = Field(min_length=1, max_length=64, description="The camera's suppressions.")


class SuppressionOut(BaseModel):
    id: int
    camera_id: str
    rule_id: str
    event_code: str
    boxes: list[list[float]] = Field(description="Normalized xyxy of the rejected event.")
    case_id: int = Field(description="The rejected case it was learnt from.")
    event_id: str
    reason: str
    created_at: str
    created_by: str
    expires_at: str
    lifted_at: str | None
    lifted_by: str | None
    active: bool
    held_back: int = Field(description="START events it held back so far.")
    last_held_at: str | None


def _out(item: suppression.Learnt) -> SuppressionOut:
    s = item.suppression
    return SuppressionOut(
        id=s.id,
        camera_id=s.camera_id,
        rule_id=s.rule_id,
        event_code=s.event_code,
        boxes=s.boxes,
        case_id=s.case_id,
        event_id=s.event_id,
        reason=s.reason,
        created_at=_iso(s.created_at) or "",
        created_by=s.created_by,
        expires_at=_iso(item.expires_at) or "",
        lifted_at=_iso(s.lifted_at),
        lifted_by=s.lifted_by,
        active=item.active,
        held_back=item.held_back,
        last_held_at=_iso(item.last_held_at),
    )


@router.get("", response_model=list[SuppressionOut])
def list_suppressions(
    q: Annotated[SuppressionFilters, Query()], db: DbSession, ctx: AppConfig, _user: CurrentUser
) -> list[SuppressionOut]:
    """A camera's learnt suppressions, newest first, with how many events each held back."""
    if db.get(CameraRow, q.camera_id) is None:
        raise HTTPException(404, f"no camera {q.camera_id}")
    config = ctx.settings.aggregator.suppression
    items = suppression.of_camera(db.connection(), q.camera_id, ctx.clock(), config)
    return [_out(i) for i in items]


@router.post("/{suppression_id}/lift", response_model=SuppressionOut)
def lift_suppression(
    suppression_id: int, db: DbSession, ctx: AppConfig, user: EngineerUser
) -> SuppressionOut:
    """Lift a suppression (engineers): look-alike events open cases again."""
    lifted = suppression.lift(ctx.engine, suppression_id, actor=user.username, at=ctx.clock())
    if lifted is None:
        raise HTTPException(404, f"no suppression {suppression_id}")
    config = ctx.settings.aggregator.suppression
    (item,) = suppression.of_camera(
        db.connection(), lifted.camera_id, ctx.clock(), config, only=suppression_id
    )
    return _out(item)
