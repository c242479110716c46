"""Request dependencies of the web app: the contract between the API and the pages.

Use them as ``Annotated`` parameters in any route (``from aggregator.web import deps``):

- ``DbSession``: a SQLAlchemy ``Session`` for this request (closed after it; call
  ``db.commit()`` yourself when you change something).
- ``AppConfig``: the :class:`WebContext` built by ``create_app``: ``settings``,
  ``event_types`` (names zh/en, departments, deadlines), ``evidence_dir``, ``engine``,
  ``web`` (session lifetime, rate limit), ``limiter``.
- ``CurrentUser``: the :class:`~aggregator.web.auth.Principal` (``username``, ``role``,
  ``via`` "session"/"token", ``has_role(...)``) from the session cookie or an
  ``Authorization: Bearer <api token>`` header. Without one, API routes (``/api/...``,
  ``/open311/...``, ``/openapi.json``) answer 401 JSON and every other route redirects (303) to
  ``/login?next=<path>``. State-changing requests (POST/PUT/PATCH/DELETE) made with a
  session cookie must carry the session's CSRF token, as form field ``csrf_token`` or
  header ``X-CSRF-Token``, else 403; token-authenticated calls are exempt.
- ``OptionalUser``: the same, or None when nobody is logged in (for /login itself).
- ``require_role(*roles)``: a dependency returning the principal, 403 unless the user has
  one of ``roles`` (admin has all). Shortcuts: ``OperatorUser``, ``EngineerUser``,
  ``AdminUser``.
- ``CsrfProtected``: the principal, with the CSRF check stated explicitly (``CurrentUser``
  already checks it on unsafe methods; naming it documents a route's intent).
- ``Templates``: the ``Jinja2Templates`` over aggregator/web/templates. Its globals:
  ``csrf_token(request)`` (put it in every POST form as ``<input type="hidden"
  name="csrf_token" value="{{ csrf_token(request) }}">``, and in a
  ``<meta name="csrf-token">`` for JS ``fetch`` calls, sent as ``X-CSRF-Token``),
  ``current_user(request)`` (the principal or None), ``state_names`` /
  ``reject_reason_names`` (value -> (zh, en)), ``event_types``.

Pages the app expects from the pages package: ``GET /login`` renders the login form
(fields ``username``, ``password``, hidden ``next``) posting to ``POST /login``, which
this package serves; on wrong credentials it renders ``login.html`` with ``error``,
``username``, ``next`` and status 401 (plain HTML if that template does not exist).
HTTP errors on page routes render ``error.html`` with ``status_code`` and ``detail``
when that template exists. ``POST /logout`` (with CSRF) ends the session.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from aggregator.config import WebConfig
from aggregator.event_types import EventTypes
from aggregator.web.auth import (
    LoginLimiter,
    Principal,
    Role,
    principal_from_session,
    principal_from_token,
)
from gridwatch.config import Settings

SESSION_COOKIE = "gridwatch_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
API_PREFIXES = ("/api/", "/open311/", "/openapi.json")


@dataclass
class WebContext:
    """Everything routes need that lives as long as the app (on ``app.state.web``)."""

    settings: Settings
    engine: Engine
    event_types: EventTypes
    evidence_dir: Path
    web: WebConfig
    limiter: LoginLimiter
    clock: Callable[[], float] = field(default=time.time)


class LoginRequired(Exception):
    """No valid session or token: 401 for the API, a redirect to /login for pages."""


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIXES)


def get_context(request: Request) -> WebContext:
    ctx = request.app.state.web
    assert isinstance(ctx, WebContext)
    return ctx


AppConfig = Annotated[WebContext, Depends(get_context)]


def get_db(ctx: AppConfig) -> Iterator[Session]:
    with Session(ctx.engine, expire_on_commit=False) as session:
        yield session


DbSession = Annotated[Session, Depends(get_db)]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise LoginRequired()
    return token.strip()


def _lookup(request: Request, ctx: AppConfig) -> Principal | None:
    """The principal of this request (sync: runs in the thread pool)."""
    token = _bearer(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    if token is None and not cookie:
        return None
    now = ctx.clock()
    with Session(ctx.engine) as db, db.begin():
        if token is not None:
            principal = principal_from_token(db, token, now)
            if principal is None:
                raise LoginRequired()  # a wrong token never falls back to the cookie
            return principal
        assert cookie is not None
        return principal_from_session(db, cookie, now)


async def _check_csrf(request: Request, principal: Principal) -> None:
    if request.method in SAFE_METHODS or principal.via != "session":
        return
    sent = request.headers.get(CSRF_HEADER)
    content_type = request.headers.get("content-type", "")
    if sent is None and content_type.startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent.encode(), principal.csrf_token.encode()):
        raise HTTPException(403, "CSRF token missing or wrong; reload the page and try again")


async def optional_user(
    request: Request, principal: Annotated[Principal | None, Depends(_lookup)]
) -> Principal | None:
    """The logged-in principal or None (CSRF is checked when there is one)."""
    if principal is not None:
        await _check_csrf(request, principal)
    request.state.principal = principal
    return principal


async def current_user(
    principal: Annotated[Principal | None, Depends(optional_user)],
) -> Principal:
    if principal is None:
        raise LoginRequired()
    return principal


OptionalUser = Annotated[Principal | None, Depends(optional_user)]
CurrentUser = Annotated[Principal, Depends(current_user)]


async def csrf_protected(request: Request, principal: CurrentUser) -> Principal:
    await _check_csrf(request, principal)
    return principal


CsrfProtected = Annotated[Principal, Depends(csrf_protected)]


def require_role(*roles: Role | str) -> Callable[[Principal], Principal]:
    """A dependency: the current principal if it has one of ``roles`` (admin: any), else 403.

    >>> # async def route(user: Annotated[Principal, Depends(require_role("engineer"))])
    """
    wanted = tuple(Role(r) for r in roles)

    def check(principal: CurrentUser) -> Principal:
        if not principal.has_role(*wanted):
            names = " or ".join(str(r) for r in wanted)
            raise HTTPException(403, f"this needs the {names} role")
        return principal

    return check


OperatorUser = Annotated[Principal, Depends(require_role(Role.OPERATOR))]
EngineerUser = Annotated[Principal, Depends(require_role(Role.ENGINEER))]
AdminUser = Annotated[Principal, Depends(require_role(Role.ADMIN))]


def get_templates(request: Request) -> Jinja2Templates:
    templates = request.app.state.templates
    assert isinstance(templates, Jinja2Templates)
    return templates


Templates = Annotated[Jinja2Templates, Depends(get_templates)]


def csrf_token(request: Request) -> str:
    """The CSRF token for forms on this page ("" when nobody is logged in)."""
    principal = getattr(request.state, "principal", None)
    return principal.csrf_token if isinstance(principal, Principal) else ""


def principal_of(request: Request) -> Principal | None:
    """The principal resolved for this request, for templates (None: not logged in)."""
    principal: Any = getattr(request.state, "principal", None)
    return principal if isinstance(principal, Principal) else None
