"""``POST /login`` and ``POST /logout``: start and end a session (the form is a page)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import TemplateNotFound

from aggregator.web.auth import authenticate, end_session, start_session
from aggregator.web.deps import SESSION_COOKIE, AppConfig, CsrfProtected, DbSession, Templates

router = APIRouter(tags=["session"])

WRONG = "wrong username or password"  # never say which part was wrong
TOO_MANY = "too many failed logins; wait a few minutes and try again"


def safe_next(target: str | None) -> str:
    """Only a local path: ``//evil.example`` or ``https://...`` would be an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _refused(
    request: Request, templates: Templates, message: str, status: int, username: str, nxt: str
) -> Response:
    if _wants_json(request):
        return JSONResponse({"detail": message}, status_code=status)
    context = {"error": message, "username": username, "next": nxt}
    try:
        return templates.TemplateResponse(request, "login.html", context, status_code=status)
    except TemplateNotFound:
        return HTMLResponse(f"<!doctype html><p>{message}</p>", status_code=status)


@router.post("/login", response_model=None)
def login(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    db: DbSession,
    ctx: AppConfig,
    templates: Templates,
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the credentials; on success set the session cookie and redirect (303)."""
    now = ctx.clock()
    ip = request.client.host if request.client else "?"
    target = safe_next(next)
    if ctx.limiter.blocked(username, ip, now):
        return _refused(request, templates, TOO_MANY, 429, username, target)
    user = authenticate(db, username, password)
    if user is None:
        ctx.limiter.failed(username, ip, now)
        return _refused(request, templates, WRONG, 401, username, target)
    ctx.limiter.succeeded(username)
    ttl = ctx.web.session_hours * 3600.0
    session_id = start_session(db, user, ttl, now)
    db.commit()
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=int(ttl),
        httponly=True,
        samesite="lax",
        secure=ctx.web.cookie_secure,
        path="/",
    )
    return response


@router.post("/logout", response_model=None)
def logout(request: Request, principal: CsrfProtected, db: DbSession) -> Response:
    """End this session (the cookie is cleared) and go to the login page."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if principal.via == "session" and cookie:
        end_session(db, cookie)
        db.commit()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
