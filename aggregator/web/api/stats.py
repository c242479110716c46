"""``/api/stats``: closure, on-time closure, review time and false positives (评价).

Definitions are in aggregator/web/stats.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from aggregator.web.api.cases import unix
from aggregator.web.deps import AppConfig, CurrentUser, DbSession
from aggregator.web.schemas import Name, Request
from aggregator.web.stats import (
    Bucket,
    Kind,
    Metrics,
    group,
    top,
    totals,
    window_summary,
)
from gridwatch.db.models import GridUnitRow

router = APIRouter(prefix="/api/stats", tags=["stats"])

DEFAULT_DAYS = 30


class StatsQuery(Request):
    since: datetime | None = Field(None, description="Cases opened from (default: 30 days ago).")
    until: datetime | None = Field(None, description="Cases opened before (default: now).")
    bucket: Bucket = "day"
    street: str | None = Field(None, description="Only this street/town code.")
    kind: Kind = Field("event", description="event cases, maintenance cases, or all.")
    limit: int = Field(
        100, ge=1, le=10_000, description="At most this many rules and cameras (most cases first)."
    )


class Keyed(BaseModel):
    key: str
    name: Name
    metrics: Metrics


class Period(BaseModel):
    period: str
    totals: Metrics
    by_street: dict[str, Metrics]
    by_event_type: dict[str, Metrics]


class StatsOut(BaseModel):
    since: str
    until: str
    bucket: Bucket
    timezone: str
    kind: Kind
    totals: Metrics
    by_street: list[Keyed]
    by_event_type: list[Keyed]
    by_rule: list[Keyed]
    by_camera: list[Keyed]
    rules_total: int = Field(description="Rules with cases; by_rule lists the first `limit`.")
    cameras_total: int = Field(description="Cameras with cases; by_camera lists `limit`.")
    over_time: list[Period]


def _keyed(groups: dict[str, Metrics], names: dict[str, Name]) -> list[Keyed]:
    return [Keyed(key=k, name=names.get(k, Name(zh=k, en=k)), metrics=m) for k, m in groups.items()]


@router.get("", response_model=StatsOut)
def stats(
    q: Annotated[StatsQuery, Query()], db: DbSession, ctx: AppConfig, _user: CurrentUser
) -> StatsOut:
    """Numbers per street, event type, rule, camera and period over cases opened in a window."""
    tzname = ctx.event_types.spec.working_hours.timezone
    tz = ZoneInfo(tzname)
    until = unix(q.until, tzname) if q.until else ctx.clock()
    since = unix(q.since, tzname) if q.since else until - DEFAULT_DAYS * 86400.0
    summary = window_summary(db.connection(), since, until, q.bucket, tz, q.street, q.kind)
    streets = {
        code: Name(zh=name, en=name)
        for code, name in db.execute(
            select(GridUnitRow.code, GridUnitRow.name).where(GridUnitRow.level == "street")
        )
    }
    types = {t.code: Name(zh=t.name_zh, en=t.name_en) for t in ctx.event_types.spec.types}
    return StatsOut(
        since=datetime.fromtimestamp(since, tz).isoformat(timespec="seconds"),
        until=datetime.fromtimestamp(until, tz).isoformat(timespec="seconds"),
        bucket=q.bucket,
        timezone=tzname,
        kind=q.kind,
        totals=summary.totals,
        by_street=_keyed(summary.by_street, streets),
        by_event_type=_keyed(summary.by_event_type, types),
        by_rule=_keyed(top(summary.by_rule, q.limit), {}),
        by_camera=_keyed(top(summary.by_camera, q.limit), {}),
        rules_total=len(summary.by_rule),
        cameras_total=len(summary.by_camera),
        over_time=[
            Period(
                period=p,
                totals=totals(items, summary.suppressed_periods.get(p, [])),
                by_street=group(
                    items, lambda f: f.street_code, summary.suppressed_periods.get(p, [])
                ),
                by_event_type=group(
                    items, lambda f: f.event_code, summary.suppressed_periods.get(p, [])
                ),
            )
            for p, items in summary.periods.items()
        ],
    )
