"""``GET /login``: the login form (``POST /login`` is served by aggregator/web/login.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from aggregator.web.deps import OptionalUser, Templates
from aggregator.web.login import safe_next

router = APIRouter()


@router.get("/login", response_class=HTMLResponse)
def login_page(
    request: Request, user: OptionalUser, templates: Templates, next: str = "/"
) -> Response:
    """The form; someone already logged in goes straight on to ``next``."""
    target = safe_next(next)
    if user is not None:
        return RedirectResponse(target, status_code=303)
    return templates.TemplateResponse(request, "login.html", {"next": target})
