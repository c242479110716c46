"""Statistics (评价): per street and per event type over a window of days.

Cases opened, closure rate (结案率: closed among the cases that entered the workflow),
on-time closure rate (按期结案率: closed cases handled before their deadline), median
time to review (opened → confirmed or rejected), and the false-positive rate (rejected
as false positive among reviewed cases) per rule and per camera, drawn as inline SVG.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from sqlalchemy import func, select

from aggregator.models import CASES, EVENTS, TRANSITIONS
from aggregator.web.deps import AppConfig, CurrentUser, DbSession, Templates
from aggregator.web.pages.charts import BAR, bar_chart, column_chart, heat_table
from aggregator.web.pages.common import TZ, event_name, render
from aggregator.web.pages.i18n import language
from aggregator.workflow import CaseState, RejectReason
from gridwatch.db.models import GridUnitRow

router = APIRouter()
S = CaseState
WORKFLOW = {S.REGISTERED, S.DISPATCHED, S.HANDLED, S.VERIFIED, S.CLOSED}
REVIEW_ACTIONS = ("register", "reject")
TOP = 12
MONTHLY_AFTER_DAYS = 120  # longer windows are counted per month, shorter ones per week


@dataclass
class Rates:
    """Counters of one group (a street, an event type, a rule, a camera)."""

    opened: int = 0
    in_workflow: int = 0
    closed: int = 0
    on_time: int = 0
    reviewed: int = 0
    false_positive: int = 0

    def add(self, case: Any) -> None:
        self.opened += 1
        if case.state in WORKFLOW:
            self.in_workflow += 1
        if case.state == S.CLOSED:
            self.closed += 1
            if case.deadline is None or (case.handled_at or 0) <= case.deadline:
                self.on_time += 1
        if case.state != S.PENDING_REVIEW:
            self.reviewed += 1
        if case.state == S.REJECTED and case.reject_reason == RejectReason.FALSE_POSITIVE:
            self.false_positive += 1

    @property
    def closure_rate(self) -> float:
        return self.closed / self.in_workflow if self.in_workflow else 0.0

    @property
    def on_time_rate(self) -> float:
        return self.on_time / self.closed if self.closed else 0.0

    @property
    def fp_rate(self) -> float:
        return self.false_positive / self.reviewed if self.reviewed else 0.0


@dataclass
class Stats:
    total: Rates = field(default_factory=Rates)
    by_street: dict[str, Rates] = field(default_factory=lambda: defaultdict(Rates))
    by_type: dict[str, Rates] = field(default_factory=lambda: defaultdict(Rates))
    by_rule: dict[str, Rates] = field(default_factory=lambda: defaultdict(Rates))
    by_camera: dict[str, Rates] = field(default_factory=lambda: defaultdict(Rates))
    per_day: Counter[str] = field(default_factory=Counter)
    street_period: Counter[tuple[str, str]] = field(default_factory=Counter)
    type_period: Counter[tuple[str, str]] = field(default_factory=Counter)
    review_minutes: list[float] = field(default_factory=list)


def period_of(t: float, monthly: bool) -> str:
    """The week (its Monday, ``MM-DD``) or the month (``YYYY-MM``) of a Unix time."""
    day = datetime.fromtimestamp(t, TZ)
    if monthly:
        return day.strftime("%Y-%m")
    return datetime.fromtimestamp(t - day.weekday() * 86400, TZ).strftime("%m-%d")


def compute(
    cases: Iterable[Any],
    reviewed_at: dict[int, float],
    rule_of: dict[int, str],
    monthly: bool = False,
) -> Stats:
    """Group the cases' counters; ``reviewed_at`` is each case's first review time."""
    stats = Stats()
    for case in cases:
        period = period_of(case.created_at, monthly)
        stats.street_period[(case.street_code, period)] += 1
        stats.type_period[(case.event_code, period)] += 1
        stats.total.add(case)
        stats.by_street[case.street_code].add(case)
        stats.by_type[case.event_code].add(case)
        stats.by_rule[rule_of.get(case.id, "-")].add(case)
        stats.by_camera[case.camera_id].add(case)
        stats.per_day[datetime.fromtimestamp(case.created_at, TZ).strftime("%m-%d")] += 1
        if case.id in reviewed_at:
            stats.review_minutes.append(max(0.0, reviewed_at[case.id] - case.created_at) / 60)
    return stats


def _load(db: Any, since: float) -> tuple[list[Any], dict[int, float], dict[int, str]]:
    c = CASES.c
    cases = list(db.execute(select(CASES).where(c.created_at >= since, c.kind == "event")))
    t = TRANSITIONS.c
    first_review = (
        select(t.case_id, func.min(t.at))
        .join(CASES, CASES.c.id == t.case_id)
        .where(c.created_at >= since, t.action.in_(REVIEW_ACTIONS))
        .group_by(t.case_id)
    )
    reviewed_at = {cid: at for cid, at in db.execute(first_review)}
    e = EVENTS.c
    rules = (
        select(e.case_id, func.min(e.rule_id))
        .join(CASES, CASES.c.id == e.case_id)
        .where(c.created_at >= since)
        .group_by(e.case_id)
    )
    rule_of = {cid: rule for cid, rule in db.execute(rules)}
    return cases, reviewed_at, rule_of


def _days(now: float, days: int) -> list[str]:
    start = now - (days - 1) * 86400
    return [datetime.fromtimestamp(start + i * 86400, TZ).strftime("%m-%d") for i in range(days)]


def _sortable_week(label: str, now: float) -> str:
    """``MM-DD`` weeks sort across a new year: a month later than now's is last year's."""
    this_month = datetime.fromtimestamp(now, TZ).month
    return ("0" if int(label[:2]) > this_month else "1") + label


def _top(
    groups: dict[str, Rates], key: Callable[[Rates], float], names: dict[str, str]
) -> list[tuple[str, float]]:
    items = sorted(groups.items(), key=lambda kv: (-key(kv[1]), kv[0]))[:TOP]
    return [(names.get(k, k), float(key(r))) for k, r in items]


def _rates(rows: list[tuple[str, float]], colour: str = BAR) -> Markup:
    return bar_chart(rows, fmt="{:.0%}", max_value=1.0, colour=colour)


def _charts(stats: Stats, names: dict[str, str], now: float, days: int) -> dict[str, Markup]:
    def opened(r: Rates) -> float:
        return r.opened

    def closure(r: Rates) -> float:
        return r.closure_rate

    def on_time(r: Rates) -> float:
        return r.on_time_rate

    def fp(r: Rates) -> float:
        return r.fp_rate

    red = "#c62828"
    monthly = days > MONTHLY_AFTER_DAYS
    periods = sorted(
        {period_of(now - i * 86400, monthly) for i in range(days)},
        key=lambda p: p if monthly else _sortable_week(p, now),
    )
    streets = sorted({k for k, _ in stats.street_period}, key=lambda k: names.get(k, k))
    types = sorted({k for k, _ in stats.type_period})
    return {
        "street_time": heat_table(
            [(k, names.get(k, k)) for k in streets], periods, dict(stats.street_period)
        ),
        "type_time": heat_table(
            [(k, names.get(k, k)) for k in types], periods, dict(stats.type_period)
        ),
        "per_day": column_chart([(d, float(stats.per_day.get(d, 0))) for d in _days(now, days)]),
        "street_opened": bar_chart(_top(stats.by_street, opened, names)),
        "street_closure": _rates(_top(stats.by_street, closure, names)),
        "street_ontime": _rates(_top(stats.by_street, on_time, names)),
        "type_opened": bar_chart(_top(stats.by_type, opened, names)),
        "type_closure": _rates(_top(stats.by_type, closure, names)),
        "rule_fp": _rates(_top(stats.by_rule, fp, {}), red),
        "camera_fp": _rates(_top(stats.by_camera, fp, {}), red),
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
    now = time.time()
    cases, reviewed_at, rule_of = _load(db, now - days * 86400)
    stats = compute(cases, reviewed_at, rule_of, monthly=days > MONTHLY_AFTER_DAYS)
    lang = language(request)
    names = {
        code: name
        for code, name in db.execute(
            select(GridUnitRow.code, GridUnitRow.name).where(GridUnitRow.level == "street")
        )
    }
    names.update(
        {code: f"{event_name(ctx.event_types, code, lang)} {code}" for code in stats.by_type}
    )
    median = statistics.median(stats.review_minutes) if stats.review_minutes else None
    return render(
        request,
        templates,
        "pages/stats.html",
        user,
        active="stats",
        days=days,
        total=stats.total,
        median_review=median,
        charts=_charts(stats, names, now, days),
    )
