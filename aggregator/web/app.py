"""The web app factory: JSON API, Open311, pages, static files and evidence.

>>> from gridwatch.config import Settings
>>> app = create_app(Settings(), db_url="sqlite:///data/gridwatch.db")  # doctest: +SKIP

Nothing is loaded at import time: settings, the database and the event types come in
through :func:`create_app`, which keeps them on ``app.state.web`` (a
:class:`~aggregator.web.deps.WebContext`) for the dependencies in ``deps.py``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import TemplateNotFound
from starlette.exceptions import HTTPException

from aggregator.event_types import EventTypes
from aggregator.storage import StorageHealth
from aggregator.web.auth import LoginLimiter
from aggregator.web.deps import (
    CurrentUser,
    LoginRequired,
    WebContext,
    is_api_path,
)
from gridwatch.config import Settings

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
TEMPLATES_DIR = HERE / "templates"


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    return templates


def _login_required(request: Request, _exc: Exception) -> Response:
    browser = "text/html" in request.headers.get("accept", "")
    if is_api_path(request.url.path) or not (browser or request.method in ("GET", "HEAD")):
        return JSONResponse(
            {"detail": "login required"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    if request.method not in ("GET", "HEAD"):  # a form posted after the session expired
        return RedirectResponse("/login", status_code=303)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    if is_api_path(request.url.path) or "text/html" not in request.headers.get("accept", ""):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)
    templates: Jinja2Templates = request.app.state.templates
    context = {"status_code": exc.status_code, "detail": exc.detail}
    try:
        return templates.TemplateResponse(
            request, "error.html", context, status_code=exc.status_code, headers=headers
        )
    except TemplateNotFound:
        return HTMLResponse(
            f"<!doctype html><title>{exc.status_code}</title><p>{exc.status_code}</p>",
            status_code=exc.status_code,
            headers=headers,
        )


def create_app(
    settings: Settings,
    *,
    db_url: str,
    evidence_dir: Path | None = None,
    event_types: EventTypes | None = None,
    storage: StorageHealth | None = None,
) -> FastAPI:
    """Build the web app on the database at ``db_url`` (migrated to the newest schema).

    ``evidence_dir`` defaults to the aggregator's (config, else data_dir/evidence);
    ``event_types`` to the configured file. Swagger/ReDoc pages are off (they load
    scripts from a CDN); the schema stays at ``/openapi.json`` (login required).
    """
    from aggregator.web import evidence, login
    from aggregator.web.api import ROUTERS
    from aggregator.web.pages import router as pages_router
    from gridwatch.db import open_db

    config = settings.aggregator
    types = event_types or EventTypes.load(config.event_types_file)
    context = WebContext(
        settings=settings,
        engine=open_db(db_url),
        event_types=types,
        evidence_dir=(evidence_dir or config.evidence_dir or settings.data_dir() / "evidence"),
        web=config.web,
        limiter=LoginLimiter(config.web.login_attempts, config.web.login_window_s),
    )
    app = FastAPI(
        title="gridwatch",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # served below, behind login like every other route
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.web = context
    app.state.templates = _templates()
    # In the aggregator's process (aggregator run --web-port) pages say when storage is
    # full (aggregator/storage.py); a separate `gridwatch web` does not know.
    app.state.templates.env.globals["storage_state"] = storage.snapshot if storage else None
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(HTTPException, _http_error)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    app.include_router(login.router)
    app.include_router(evidence.router)
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(pages_router)
    app.add_api_route("/openapi.json", _openapi, methods=["GET"], include_in_schema=False)
    return app


def _openapi(request: Request, _user: CurrentUser) -> JSONResponse:
    """FastAPI's OpenAPI schema, for logged-in users and API tokens."""
    return JSONResponse(request.app.openapi())
