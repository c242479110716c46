"""Cases as API objects: the CLI's ``case_dict`` plus names in both languages,
evidence URLs, the timeline and the states the caller may choose next."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select

from aggregator.cases_cli import _iso, case_dict, events_by_case
from aggregator.event_types import EventTypes
from aggregator.models import CASES, EVENTS, TRANSITIONS
from aggregator.web.auth import Principal, Role
from aggregator.web.evidence import evidence_url
from aggregator.web.labels import STATE_NAMES
from aggregator.web.schemas import CaseDetail, CaseSummary, EventOut, Name, TransitionOut
from aggregator.workflow import ALLOWED, CaseRecord, CaseState
from gridwatch.db.models import CameraRow

DETAIL_EVENTS = 200
# The one order of the review queue (page and API): most confident, then most recently
# seen (a problem seen again just now before one seen once last night), then newest case.
REVIEW_ORDER = (CASES.c.max_confidence.desc(), CASES.c.last_seen.desc(), CASES.c.id.desc())
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


def state_name(state: str) -> Name:
    zh, en = STATE_NAMES.get(state, (state, state))
    return Name(zh=zh, en=en)


def first_image(paths: Sequence[str]) -> str | None:
    for path in paths:
        if path.lower().endswith(IMAGE_SUFFIXES):
            return evidence_url(path)
    return None


def _thumbnail(events: Sequence[Any]) -> str | None:
    for e in reversed(events):
        url = first_image(e.evidence or [])
        if url:
            return url
    return None


def summary(
    record: CaseRecord, events: Sequence[Any], types: EventTypes, now: float
) -> dict[str, Any]:
    """The fields of :class:`CaseSummary` for one case and its events (oldest first)."""
    out = case_dict(record, events, types, now)
    spec = types.get(record.event_code)
    out.pop("event_ids", None)
    out["event_name"] = Name(zh=spec.name_zh, en=spec.name_en)
    out["state_name"] = state_name(record.state)
    out["thumbnail_url"] = _thumbnail(events)
    return out


def summaries(
    conn: Connection, rows: Sequence[Any], types: EventTypes, now: float
) -> list[CaseSummary]:
    records = [CaseRecord.from_row(r) for r in rows]
    events = events_by_case(conn, [r.id for r in records if r.id is not None])
    return [CaseSummary(**summary(r, events.get(r.id or 0, []), types, now)) for r in records]


def allowed_next(state: str, principal: Principal) -> list[str]:
    """What the caller may move a case in ``state`` to (operators and admins only)."""
    if not principal.has_role(Role.OPERATOR):
        return []
    return [str(s) for s in ALLOWED[CaseState(state)]]


def _event_out(e: Any) -> EventOut:
    return EventOut(
        event_id=e.event_id,
        incident_id=e.incident_id,
        phase=e.phase,
        camera_id=e.camera_id,
        rule_id=e.rule_id,
        t_event=_iso(e.t_event),
        confidence=e.confidence,
        boxes=list(e.boxes or []),
        zone_id=e.zone_id,
        evidence_urls=[evidence_url(p) for p in e.evidence or []],
    )


def transition_out(s: Any) -> TransitionOut:
    return TransitionOut(
        at=_iso(s.at),
        actor=s.actor,
        action=s.action,
        from_state=s.from_state,
        to_state=s.to_state,
        note=s.note,
        reason=s.reason,
    )


def case_detail(
    conn: Connection, case_id: int, types: EventTypes, now: float, principal: Principal
) -> CaseDetail | None:
    """One case with its newest events, its timeline and the caller's next states."""
    row = conn.execute(select(CASES).where(CASES.c.id == case_id)).first()
    if row is None:
        return None
    record = CaseRecord.from_row(row)
    e, t = EVENTS.c, TRANSITIONS.c
    total = len(conn.execute(select(e.event_id).where(e.case_id == case_id)).all())
    newest = conn.execute(
        select(EVENTS)
        .where(e.case_id == case_id)
        .order_by(e.t_event.desc(), e.event_id.desc())
        .limit(DETAIL_EVENTS)
    ).all()
    events = list(reversed(newest))
    steps = conn.execute(select(TRANSITIONS).where(t.case_id == case_id).order_by(t.at, t.id))
    camera = conn.execute(
        select(CameraRow.lat, CameraRow.lon).where(CameraRow.camera_id == record.camera_id)
    ).first()
    return CaseDetail(
        **summary(record, events, types, now),
        events=[_event_out(ev) for ev in events],
        events_total=total,
        timeline=[transition_out(s) for s in steps],
        allowed_next=allowed_next(record.state, principal),
        lat=camera.lat if camera else None,
        lon=camera.lon if camera else None,
    )
