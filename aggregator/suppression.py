"""Known false positives: what an operator's rejection teaches its camera.

When an operator rejects a case as a false positive (误报) or as not a problem at this
place, :func:`learn` (called by ``workflow.transition_case`` in the same transaction)
keeps the newest START event of that case that has an appearance signature (protocol
v3, :mod:`gridwatch.appearance`) as a *suppression* of its camera: rule, boxes,
signature. For ``aggregator.suppression.ttl_s`` after that, the store holds back a new
START of the same rule on the same camera when

* one of its boxes overlaps one of the rejected boxes by ``min_box_iou`` (the place), and
* its signature is at least ``min_similarity`` alike (the look);

such an event opens and joins no case: it is stored with ``events.suppressed_by`` set
(and so is the END of its incident), counted by the statistics (``suppressed`` per rule,
camera, street and type) and listed on the camera page, where an engineer can lift the
suppression. Nothing disappears silently. An event without a signature (an agent older
than protocol v3) is never held back, and a rejection without one teaches nothing.

The aggregator keeps suppressions (rather than pushing them to the agents) so that every
held-back event is still stored, visible and countable, and an engineer's lift takes
effect at the next event with no agent involved.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update

from aggregator.cases import iou
from aggregator.config import SuppressionConfig
from aggregator.models import EVENTS, SUPPRESSIONS
from aggregator.workflow import CaseRecord, RejectReason
from gridwatch.appearance import SignatureError, similarity
from gridwatch.protocol import EventPayload, EventPhase

log = logging.getLogger(__name__)

# Reasons that say "this camera should not raise this again": the detection was wrong, or
# right about the object but it is no problem at this place. Not "duplicate" (a real
# problem, already reported) nor "not our business" (a real problem for someone else).
SUPPRESSING_REASONS = frozenset({RejectReason.FALSE_POSITIVE, RejectReason.NOT_A_PROBLEM_HERE})
LEARN_FROM_LAST = 20  # a case's newest START events looked at for a signature


@dataclass(frozen=True)
class Suppression:
    """One row of ``suppressions``."""

    id: int
    camera_id: str
    rule_id: str
    event_code: str
    boxes: list[list[float]]
    signature: str
    case_id: int
    event_id: str
    reason: str
    created_at: float
    created_by: str
    lifted_at: float | None
    lifted_by: str | None

    def expires_at(self, config: SuppressionConfig) -> float:
        return self.created_at + config.ttl_s

    def active(self, now: float, config: SuppressionConfig) -> bool:
        return self.lifted_at is None and now < self.expires_at(config)

    def holds_back(self, event: EventPayload, config: SuppressionConfig) -> bool:
        """Does ``event`` repeat this false positive (same rule, place and look)?"""
        frame = event.frame
        if event.rule_id != self.rule_id or frame is None or frame.signature is None:
            return False
        place = any(
            iou(b.xyxy, old) >= config.min_box_iou for b in event.boxes for old in self.boxes
        )
        if not place:
            return False
        try:
            return similarity(frame.signature, self.signature) >= config.min_similarity
        except SignatureError:
            return False


def _row(row: Any) -> Suppression:
    values = row._asdict()
    if isinstance(values["boxes"], str):  # straight from the driver: JSON text
        values["boxes"] = json.loads(values["boxes"])
    return Suppression(**values)


def learn(
    conn: Connection, case: CaseRecord, *, reason: str | None, actor: str, at: float
) -> int | None:
    """Make the rejected ``case`` a suppression of its camera; returns its id, or None
    when the reason does not suppress or no START of the case has a signature."""
    if reason not in SUPPRESSING_REASONS or case.id is None or case.kind != "event":
        return None
    e = EVENTS.c
    rows = conn.execute(
        select(e.event_id, e.rule_id, e.event_code, e.boxes, e.frame)
        .where(e.case_id == case.id, e.phase == str(EventPhase.START), e.frame.is_not(None))
        .order_by(e.t_event.desc())
        .limit(LEARN_FROM_LAST)
    ).all()
    for row in rows:
        signature = (row.frame or {}).get("signature")
        if not signature or not row.boxes:
            continue
        values = {
            "camera_id": case.camera_id,
            "rule_id": row.rule_id,
            "event_code": row.event_code,
            "boxes": [list(b["xyxy"]) for b in row.boxes],
            "signature": signature,
            "case_id": case.id,
            "event_id": row.event_id,
            "reason": str(reason),
            "created_at": at,
            "created_by": actor,
        }
        new_id = conn.execute(insert(SUPPRESSIONS).values(values)).inserted_primary_key
        log.info("case %s rejected (%s): camera %s learns it", case.id, reason, case.camera_id)
        return int(new_id[0]) if new_id else None
    log.info("case %s rejected (%s): no START with a signature to learn from", case.id, reason)
    return None


def of_cameras(conn: Connection, cameras: Iterable[str]) -> list[Suppression]:
    """Every suppression of ``cameras``, active or not (one query per 2,000 cameras).

    On the commit path of every batch: on SQLite it goes straight to the driver, as
    the store's own lookups do (compiling an expanding IN costs five times the query).
    """
    s = SUPPRESSIONS.c
    wanted = sorted(set(cameras))
    out: list[Suppression] = []
    for i in range(0, len(wanted), 2000):
        chunk = wanted[i : i + 2000]
        if conn.dialect.name == "sqlite":
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT * FROM suppressions WHERE camera_id IN ({marks})"
            rows: Iterable[Any] = conn.exec_driver_sql(sql, tuple(chunk))
        else:
            rows = conn.execute(select(SUPPRESSIONS).where(s.camera_id.in_(chunk)))
        out.extend(_row(r) for r in rows)
    return out


def hold_back(
    conn: Connection, events: Sequence[EventPayload], now: float, config: SuppressionConfig
) -> dict[str, int]:
    """The events of a batch that repeat a known false positive: event id → suppression id.

    STARTs are compared with the active suppressions of their cameras; an END is held
    back with its incident's START (in this batch, or stored earlier). One query for the
    suppressions of the batch's cameras, and one more only for ENDs on cameras that have
    suppressions; none for a batch with neither STARTs with a clean frame nor ENDs.
    """
    if not config.enabled or not events:
        return {}
    starts = [ev for ev in events if ev.phase is EventPhase.START and ev.frame is not None]
    ends = [ev for ev in events if ev.phase is EventPhase.END]
    if not starts and not ends:
        return {}
    known = of_cameras(conn, {ev.camera_id for ev in (*starts, *ends)})
    if not known:
        return {}
    by_place: dict[tuple[str, str], list[Suppression]] = defaultdict(list)
    for sup in known:
        if sup.active(now, config):
            by_place[(sup.camera_id, sup.rule_id)].append(sup)
    held: dict[str, int] = {}
    incidents: dict[str, int] = {}
    for ev in starts:
        for sup in by_place.get((ev.camera_id, ev.rule_id), ()):
            if sup.holds_back(ev, config):
                held[ev.event_id] = incidents[ev.incident_id] = sup.id
                break
    taught = {sup.camera_id for sup in known}
    ends = [ev for ev in ends if ev.camera_id in taught]
    incidents.update(_held_incidents(conn, {ev.incident_id for ev in ends} - set(incidents)))
    held.update(
        {ev.event_id: incidents[ev.incident_id] for ev in ends if ev.incident_id in incidents}
    )
    return held


def _held_incidents(conn: Connection, incident_ids: Iterable[str]) -> dict[str, int]:
    """Incident → the suppression that held its START back, for stored incidents."""
    e = EVENTS.c
    wanted = sorted(incident_ids)
    out: dict[str, int] = {}
    for i in range(0, len(wanted), 2000):
        stmt = (
            select(e.incident_id, func.min(e.suppressed_by))
            .where(e.incident_id.in_(wanted[i : i + 2000]), e.suppressed_by.is_not(None))
            .group_by(e.incident_id)
        )
        out.update({inc: int(sid) for inc, sid in conn.execute(stmt)})
    return out


def lift(engine: Engine, suppression_id: int, *, actor: str, at: float) -> Suppression | None:
    """An engineer lifts a suppression: look-alikes raise cases again. Returns it (None:
    no such suppression); lifting twice keeps the first lift."""
    s = SUPPRESSIONS.c
    with engine.begin() as conn:
        conn.execute(
            update(SUPPRESSIONS)
            .where(s.id == suppression_id, s.lifted_at.is_(None))
            .values(lifted_at=at, lifted_by=actor)
        )
        row = conn.execute(select(SUPPRESSIONS).where(s.id == suppression_id)).first()
    return _row(row) if row is not None else None


@dataclass(frozen=True)
class Learnt:
    """A suppression as the camera page and the API show it."""

    suppression: Suppression
    active: bool
    expires_at: float
    held_back: int  # START events it held back
    last_held_at: float | None


def of_camera(
    conn: Connection,
    camera_id: str,
    now: float,
    config: SuppressionConfig,
    limit: int = 100,
    only: int | None = None,
) -> list[Learnt]:
    """A camera's suppressions (or just suppression ``only``), newest first, with how
    many events each held back."""
    s, e = SUPPRESSIONS.c, EVENTS.c
    stmt = select(SUPPRESSIONS).where(s.camera_id == camera_id)
    if only is not None:
        stmt = stmt.where(s.id == only)
    rows = conn.execute(stmt.order_by(s.id.desc()).limit(limit)).all()
    sups = [_row(r) for r in rows]
    counts: dict[int, tuple[int, float | None]] = {}
    if sups:
        stmt = (
            select(e.suppressed_by, func.count(), func.max(e.t_event))
            .where(e.suppressed_by.in_([x.id for x in sups]), e.phase == str(EventPhase.START))
            .group_by(e.suppressed_by)
        )
        counts = {int(sid): (int(n), last) for sid, n, last in conn.execute(stmt)}
    return [
        Learnt(x, x.active(now, config), x.expires_at(config), *counts.get(x.id, (0, None)))
        for x in sups
    ]
