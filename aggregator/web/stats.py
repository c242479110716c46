"""Evaluation numbers (评价) over the cases opened in a time window.

Definitions (per group: a street, an event type, a rule, a camera, a period):

- ``opened``: cases created in the window.
- ``registered``: of those, cases an operator accepted (state not pending_review and
  not rejected): the cases the city owes an answer for (应结案).
- ``closed``: cases in state closed. ``closure_rate`` = closed / registered (结案率).
- ``on_time_closed``: closed cases whose department reported them handled by the
  handle deadline (after a reopen: the last dispatch's deadline).
  ``on_time_closure_rate`` = on_time_closed / registered (按期结案率).
- ``reviewed``: cases that left pending_review; ``false_positives``: rejected with
  reason false_positive; ``false_positive_rate`` = false_positives / reviewed.
- ``median_review_s``: median seconds from a case opening to its first review step.
- ``suppressed``: START events received in the window that opened no case because they
  repeat a false positive operators rejected on that camera (aggregator/suppression.py);
  grouped by their own rule, camera, street and type, and counted beside the cases so
  nothing a suppression holds back goes unseen.

A rate is None where its denominator is 0 (the page shows "-"). The rule of a case is
the rule of the event that opened it; maintenance cases have no rule (grouped under
``maintenance``). Only event cases (street problems) count unless maintenance cases
(broken cameras) are asked for.

This is the one engine: the statistics page and ``/api/stats`` both call
:func:`window_summary` (:func:`load_facts`, :func:`load_suppressed`, :func:`summarize`),
so they cannot disagree.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import Connection, func, select

from aggregator.models import CASES, EVENTS, TRANSITIONS
from aggregator.workflow import CaseState, RejectReason
from gridwatch.db.models import CameraRow

Bucket = Literal["day", "week", "month"]


class Metrics(BaseModel):
    opened: int
    registered: int
    closed: int
    closure_rate: float | None
    on_time_closed: int
    on_time_closure_rate: float | None
    reviewed: int
    false_positives: int
    false_positive_rate: float | None
    median_review_s: float | None
    suppressed: int = 0


@dataclass(frozen=True)
class CaseFacts:
    """What the numbers need from one case."""

    case_id: int
    event_code: str
    street_code: str
    camera_id: str
    rule_id: str
    state: str
    created_at: float
    registered: bool
    closed: bool
    on_time: bool
    reviewed: bool
    false_positive: bool
    review_s: float | None


@dataclass(frozen=True)
class SuppressedFact:
    """One START event a suppression held back (keys named like :class:`CaseFacts`')."""

    event_code: str
    street_code: str
    camera_id: str
    rule_id: str
    created_at: float  # when the aggregator received it


@dataclass
class Tally:
    cases: list[CaseFacts] = field(default_factory=list)
    suppressed: int = 0

    def metrics(self) -> Metrics:
        c = self.cases
        registered = sum(f.registered for f in c)
        closed = sum(f.closed for f in c)
        on_time = sum(f.on_time for f in c)
        reviewed = sum(f.reviewed for f in c)
        false_pos = sum(f.false_positive for f in c)
        waits = [f.review_s for f in c if f.review_s is not None]
        return Metrics(
            opened=len(c),
            registered=registered,
            closed=closed,
            closure_rate=_rate(closed, registered),
            on_time_closed=on_time,
            on_time_closure_rate=_rate(on_time, registered),
            reviewed=reviewed,
            false_positives=false_pos,
            false_positive_rate=_rate(false_pos, reviewed),
            median_review_s=statistics.median(waits) if waits else None,
            suppressed=self.suppressed,
        )


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None


def _facts(row: Any, first_review: float | None) -> CaseFacts:
    state = row.state
    closed = state == CaseState.CLOSED
    on_time = (
        closed
        and row.deadline is not None
        and row.handled_at is not None
        and row.handled_at <= row.deadline
    )
    return CaseFacts(
        case_id=row.id,
        event_code=row.event_code,
        street_code=row.street_code,
        camera_id=row.camera_id,
        rule_id=row.rule_id or ("maintenance" if row.kind == "maintenance" else "unknown"),
        state=state,
        created_at=row.created_at,
        registered=state not in (CaseState.PENDING_REVIEW, CaseState.REJECTED),
        closed=closed,
        on_time=bool(on_time),
        reviewed=state != CaseState.PENDING_REVIEW,
        false_positive=state == CaseState.REJECTED
        and row.reject_reason == RejectReason.FALSE_POSITIVE,
        review_s=None if first_review is None else max(0.0, first_review - row.created_at),
    )


Kind = Literal["event", "maintenance", "all"]


def load_facts(
    conn: Connection,
    since: float,
    until: float,
    street: str | None = None,
    kind: Kind = "event",
) -> list[CaseFacts]:
    """The facts of every case created in ``[since, until)`` (optionally of one street),
    of event cases only by default (``kind``: ``maintenance`` or ``all``)."""
    c, e, t = CASES.c, EVENTS.c, TRANSITIONS.c
    window = (c.created_at >= since, c.created_at < until)
    extra: tuple[Any, ...] = (c.street_code == street,) if street else ()
    if kind != "all":
        extra = (*extra, c.kind == kind)
    reviews = dict(
        conn.execute(
            select(t.case_id, func.min(t.at))
            .join(CASES, c.id == t.case_id)
            .where(t.from_state == CaseState.PENDING_REVIEW, *window, *extra)
            .group_by(t.case_id)
        ).all()
    )
    rows = conn.execute(
        select(
            c.id,
            c.kind,
            c.event_code,
            c.street_code,
            c.camera_id,
            c.state,
            c.created_at,
            c.deadline,
            c.handled_at,
            c.reject_reason,
            e.rule_id,
        )
        .outerjoin(EVENTS, e.event_id == c.origin_key)
        .where(*window, *extra)
    )
    return [_facts(r, reviews.get(r.id)) for r in rows]


def load_suppressed(
    conn: Connection,
    since: float,
    until: float,
    street: str | None = None,
    kind: Kind = "event",
) -> list[SuppressedFact]:
    """The START events held back by a suppression and received in ``[since, until)``
    (suppressions concern event cases only: none for ``kind="maintenance"``)."""
    if kind == "maintenance":
        return []
    e, cam = EVENTS.c, CameraRow.__table__.c
    where = [
        e.suppressed_by.is_not(None),
        e.phase == "start",
        e.received_at >= since,
        e.received_at < until,
    ]
    if street:
        where.append(cam.street_code == street)
    rows = conn.execute(
        select(e.event_code, cam.street_code, e.camera_id, e.rule_id, e.received_at)
        .join(CameraRow.__table__, cam.camera_id == e.camera_id)
        .where(*where)
    )
    return [SuppressedFact(*row) for row in rows]


def period_of(t: float, bucket: Bucket, tz: ZoneInfo) -> str:
    """The period a Unix time falls in: ``2026-11-23`` (day, week's Monday) or ``2026-11``."""
    day = datetime.fromtimestamp(t, tz).date()
    if bucket == "month":
        return f"{day.year:04d}-{day.month:02d}"
    if bucket == "week":
        day -= timedelta(days=day.weekday())
    return day.isoformat()


def group(
    facts: Iterable[CaseFacts],
    key: Callable[[Any], str],
    suppressed: Iterable[SuppressedFact] = (),
) -> dict[str, Metrics]:
    """Metrics per ``key`` (a function of the fields both kinds of facts share)."""
    tallies: dict[str, Tally] = defaultdict(Tally)
    for f in facts:
        tallies[key(f)].cases.append(f)
    for s in suppressed:
        tallies[key(s)].suppressed += 1
    return {k: tallies[k].metrics() for k in sorted(tallies)}


def totals(facts: list[CaseFacts], suppressed: Iterable[SuppressedFact] = ()) -> Metrics:
    return Tally(list(facts), sum(1 for _ in suppressed)).metrics()


@dataclass
class Summary:
    """Every figure of a window: totals, per group, per period and per day."""

    totals: Metrics
    by_street: dict[str, Metrics]
    by_event_type: dict[str, Metrics]
    by_rule: dict[str, Metrics]
    by_camera: dict[str, Metrics]
    periods: dict[str, list[CaseFacts]]
    per_day: dict[str, int]
    suppressed_periods: dict[str, list[SuppressedFact]] = field(default_factory=dict)


def summarize(
    facts: list[CaseFacts],
    bucket: Bucket,
    tz: ZoneInfo,
    suppressed: Sequence[SuppressedFact] = (),
) -> Summary:
    """The figures of ``facts`` (and of the ``suppressed`` events), periods of ``bucket``
    and days in ``tz``."""
    periods: dict[str, list[CaseFacts]] = defaultdict(list)
    per_day: dict[str, int] = defaultdict(int)
    for f in facts:
        periods[period_of(f.created_at, bucket, tz)].append(f)
        per_day[period_of(f.created_at, "day", tz)] += 1
    held: dict[str, list[SuppressedFact]] = defaultdict(list)
    for s in suppressed:
        held[period_of(s.created_at, bucket, tz)].append(s)
        periods.setdefault(period_of(s.created_at, bucket, tz), [])
    return Summary(
        totals=totals(facts, suppressed),
        by_street=group(facts, lambda f: f.street_code, suppressed),
        by_event_type=group(facts, lambda f: f.event_code, suppressed),
        by_rule=group(facts, lambda f: f.rule_id, suppressed),
        by_camera=group(facts, lambda f: f.camera_id, suppressed),
        periods=dict(sorted(periods.items())),
        per_day=dict(per_day),
        suppressed_periods=dict(held),
    )


def window_summary(
    conn: Connection,
    since: float,
    until: float,
    bucket: Bucket,
    tz: ZoneInfo,
    street: str | None = None,
    kind: Kind = "event",
) -> Summary:
    """Every figure of the window ``[since, until)``: what the page and the API show."""
    facts = load_facts(conn, since, until, street, kind)
    return summarize(facts, bucket, tz, load_suppressed(conn, since, until, street, kind))


def top(groups: dict[str, Metrics], limit: int) -> dict[str, Metrics]:
    """The ``limit`` groups with the most cases (ties by key): a city-sized answer stays
    small (200,000 cameras would be 200,000 rows)."""
    ranked = sorted(groups.items(), key=lambda kv: (-kv[1].opened, kv[0]))
    return dict(ranked[:limit])
