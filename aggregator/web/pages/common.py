"""What every page shares: rendering with language and user, times, names, evidence links."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from aggregator.event_types import EventTypes
from aggregator.web.auth import Principal, Role
from aggregator.web.deps import csrf_token
from aggregator.web.evidence import evidence_url
from aggregator.web.pages.i18n import language, remember_language, translator

NAV = (
    ("review", "/review"),
    ("cases", "/cases"),
    ("map", "/map"),
    ("cameras", "/cameras"),
    ("stats", "/stats"),
)
CASE_ROLES = (Role.OPERATOR,)  # who moves cases through the workflow (admin: any role)
ZONE_ROLES = (Role.ENGINEER,)  # who edits cameras and their zones


def render(
    request: Request,
    templates: Jinja2Templates,
    template: str,
    user: Principal | None,
    *,
    active: str = "",
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` with the language, translator, user, nav and CSRF token."""
    lang = language(request)
    t = translator(lang)
    params = dict(request.query_params)
    params.update(lang="en" if lang == "zh" else "zh")
    params.pop("msg", None)
    params.pop("err", None)
    base = {
        "lang_href": "?" + urlencode(params),
        "lang": lang,
        "t": t,
        "user": user,
        "csrf": csrf_token(request),
        "nav": NAV,
        "active": active,
        "fmt_time": functools.partial(fmt_time, tz=display_tz(request)),
        "flash": request.query_params.get("msg") and t(request.query_params["msg"]),
        "flash_kind": "error" if request.query_params.get("err") else "",
    }
    response = templates.TemplateResponse(
        request, template, {**base, **context}, status_code=status_code
    )
    remember_language(request, response)
    return response


def display_tz(request: Request) -> ZoneInfo:
    """The one display clock: the working-hours timezone of the event types (the same
    the API and the deadlines use)."""
    return ZoneInfo(request.app.state.web.event_types.spec.working_hours.timezone)


def fmt_time(t: float | None, with_seconds: bool = False, *, tz: ZoneInfo) -> str:
    """A Unix time as local ``YYYY-MM-DD HH:MM`` in ``tz``; "-" for None."""
    if t is None:
        return "-"
    pattern = "%Y-%m-%d %H:%M:%S" if with_seconds else "%Y-%m-%d %H:%M"
    return datetime.fromtimestamp(t, tz).strftime(pattern)


def event_name(types: EventTypes, code: str, lang: str) -> str:
    """The event type's name in the page language (Chinese by default)."""
    spec = types.get(code)
    return spec.name_en if lang == "en" else spec.name_zh


# An END event's verification crops (edge_agent/events.py): the place before the object
# came, the object when its incident opened, the place when the camera saw it clear.
PLACE_CROPS = {"before.jpg": "before", "object.jpg": "object", "after.jpg": "after"}


def evidence_urls(event: Any) -> dict[str, str]:
    """``{"snapshot": url, "clip": url}`` for an event row's stored evidence files, and
    ``before``/``object``/``after`` for the crops of an END event."""
    out: dict[str, str] = {}
    for path in event.evidence or []:
        name = str(path).rsplit("/", 1)[-1]
        kind = PLACE_CROPS.get(name) or ("clip" if name.endswith(".mp4") else "snapshot")
        out.setdefault(kind, evidence_url(str(path)))
    return out


def can(user: Principal, roles: tuple[Role, ...]) -> bool:
    return user.has_role(*roles)
