"""``/api/session``: who is calling, with which role (and the CSRF token for JS)."""

from __future__ import annotations

from fastapi import APIRouter

from aggregator.web.deps import CurrentUser
from aggregator.web.labels import ROLE_NAMES
from aggregator.web.schemas import Name, SessionOut

router = APIRouter(prefix="/api/session", tags=["session"])


@router.get("", response_model=SessionOut)
def whoami(user: CurrentUser) -> SessionOut:
    zh, en = ROLE_NAMES[user.role]
    return SessionOut(
        username=user.username,
        role=str(user.role),
        role_name=Name(zh=zh, en=en),
        via=user.via,
        csrf_token=user.csrf_token,
    )
