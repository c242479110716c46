"""Statistics (评价): per street and per event type over a window of days.

Cases opened, closure rate (结案率), on-time closure rate (按期结案率), median time to
review, the false-positive rate per rule and per camera, and the events suppressions
held back (known false positives) per rule and camera, drawn as inline SVG. The
figures come from the one engine, :mod:`aggregator.web.stats` (definitions there), the
same as ``/api/stats``; days and periods are in the configured working-hours timezone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from sqlalchemy import select

from aggregator.web.deps import AppConfig, CurrentUser, DbSession, Templates
from aggregator.web.pages.charts import BAR, bar_chart, column_chart, heat_table
from aggregator.web.pages.common import event_name, render
from aggregator.web.pages.i18n import language
from aggregator.web.stats import Bucket, Metrics, Summary, period_of, window_summary
from gridwatch.db.models import GridUnitRow

router = APIRouter()
TOP = 12
MONTHLY_AFTER_DAYS = 120  # longer windows are counted per month, shorter ones per week
RED = "#c62828"


def _top(
    groups: dict[str, Metrics], key: Callable[[Metrics], float | None], names: dict[str, str]
) -> list[tuple[str, float]]:
    """The ``TOP`` groups by ``key``; groups whose figure is undefined (no denominator)
    are left out rather than drawn as 0."""
    known = [(k, v) for k, m in groups.items() if (v := key(m)) is not None]
    ranked = sorted(known, key=lambda kv: (-kv[1], kv[0]))[:TOP]
    return [(names.get(k, k), float(v)) for k, v in ranked]


def _rates(rows: list[tuple[str, float]], colour: str = BAR) -> Markup:
    return bar_chart(rows, fmt="{:.0%}", max_value=1.0, colour=colour)


def _counts(summary: Summary, field: Callable[[str, str], str]) -> Counter[tuple[str, str]]:
    out: Counter[tuple[str, str]] = Counter()
    for period, facts in summary.periods.items():
        for f in facts:
            out[(field(f.street_code, f.event_code), period)] += 1
    return out


def charts(
    summary: Summary, names: dict[str, str], now: float, days: int, bucket: Bucket, tz: ZoneInfo
) -> dict[str, Markup]:
    """Every chart of the page."""
    periods = sorted({period_of(now - i * 86400, bucket, tz) for i in range(days)})
    day_keys = [period_of(now - (days - 1 - i) * 86400, "day", tz) for i in range(days)]
    by_street = _counts(summary, lambda street, _: street)
    by_type = _counts(summary, lambda _, code: code)
    streets = sorted({k for k, _ in by_street}, key=lambda k: names.get(k, k))
    types = sorted({k for k, _ in by_type})
    return {
        "street_time": heat_table([(k, names.get(k, k)) for k in streets], periods, by_street),
        "type_time": heat_table([(k, names.get(k, k)) for k in types], periods, by_type),
        "per_day": column_chart([(d[5:], float(summary.per_day.get(d, 0))) for d in day_keys]),
        "street_opened": bar_chart(_top(summary.by_street, lambda m: m.opened, names)),
        "street_closure": _rates(_top(summary.by_street, lambda m: m.closure_rate, names)),
        "street_ontime": _rates(_top(summary.by_street, lambda m: m.on_time_closure_rate, names)),
        "type_opened": bar_chart(_top(summary.by_event_type, lambda m: m.opened, names)),
        "type_closure": _rates(_top(summary.by_event_type, lambda m: m.closure_rate, names)),
        "rule_fp": _rates(_top(summary.by_rule, lambda m: m.false_positive_rate, {}), RED),
        "camera_fp": _rates(_top(summary.by_camera, lambda m: m.false_positive_rate, {}), RED),
        "rule_suppressed": bar_chart(_top(summary.by_rule, lambda m: m.suppressed or None, {})),
        "camera_suppressed": bar_chart(_top(summary.by_camera, lambda m: m.suppressed or None, {})),
    }


@router.get("/stats", response_class=HTMLResponse)
def stats_page(
    request: Request,
    db: DbSession,
    ctx: AppConfig,
    user: CurrentUser,
    templates: Templates,
    days: int = 30,
) -> HTMLResponse:
    """Cards with the district's rates and charts per street, type, rule and camera."""
    days = min(366, max(1, days))
    tz = ZoneInfo(ctx.event_types.spec.working_hours.timezone)
    now = ctx.clock()
    bucket: Bucket = "month" if days > MONTHLY_AFTER_DAYS else "week"
    summary = window_summary(db.connection(), now - days * 86400, now, bucket, tz)
    lang = language(request)
    names = {
        code: name
        for code, name in db.execute(
            select(GridUnitRow.code, GridUnitRow.name).where(GridUnitRow.level == "street")
        )
    }
    names.update(
        {
            code: f"{event_name(ctx.event_types, code, lang)} {code}"
            for code in summary.by_event_type
        }
    )
    return render(
        request,
        templates,
        "pages/stats.html",
        user,
        active="stats",
        days=days,
        total=summary.totals,
        charts=charts(summary, names, now, days, bucket, tz),
    )
