"""``gridwatch cases``: list, show and move cases through the workflow.

Cases carry no camera URLs (only camera ids), so nothing here can print a password.
Times are printed as local ISO 8601 (Asia/Shanghai).
"""

from __future__ import annotations

import getpass
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from sqlalchemy import Connection, Select, and_, or_, select

from aggregator.cases import clock
from aggregator.event_types import EventTypes
from aggregator.models import CASES, EVENTS, TRANSITIONS
from aggregator.workflow import CaseRecord, CaseState, RejectReason, is_overdue
from gridwatch.cli.common import db_option, json_option, print_table, settings_from
from gridwatch.config import ConfigError, Settings

_CHUNK = 2000


def _iso(t: float | None) -> str | None:
    return clock(t) if t is not None else None


def case_dict(
    case: CaseRecord, events: Sequence[Any], types: EventTypes | None, now: float
) -> dict[str, Any]:
    """A case as JSON (also the shape the web API can reuse)."""
    spec = types.get(case.event_code) if types is not None else None
    return {
        "case_id": case.id,
        "kind": case.kind,
        "event_code": case.event_code,
        "event_name": spec.name_zh if spec else None,
        "state": case.state,
        "department": case.department,
        "grid_code": case.grid_code,
        "community_code": case.community_code,
        "street_code": case.street_code,
        "grid_path": case.grid_path,
        "camera_ids": sorted({case.camera_id, *(e.camera_id for e in events)}),
        "event_ids": [e.event_id for e in events],
        "first_seen": _iso(case.first_seen),
        "last_seen": _iso(case.last_seen),
        "sightings": case.sightings,
        "max_confidence": case.max_confidence,
        "deadline": _iso(case.deadline),
        "verify_deadline": _iso(case.verify_deadline),
        "overdue": is_overdue(case, now),
        "reject_reason": case.reject_reason,
        "duplicate_of": case.duplicate_of,
        "reopen_count": case.reopen_count,
        "created_at": _iso(case.created_at),
        "updated_at": _iso(case.updated_at),
    }


def case_query(
    *,
    state: str | None = None,
    code: str | None = None,
    street: str | None = None,
    community: str | None = None,
    grid: str | None = None,
    camera: str | None = None,
    overdue_at: float | None = None,
) -> Select[Any]:
    """Cases filtered like ``cases list``; a place is a code or a name in the grid path."""
    c = CASES.c
    query = select(CASES).order_by(c.id)
    for column, value in (
        (c.street_code, street),
        (c.community_code, community),
        (c.grid_code, grid),
    ):
        if value:
            if value.isdigit():
                query = query.where(column == value)
            else:
                query = query.where(c.grid_path.contains(f"› {value}"))
    if state:
        query = query.where(c.state == state)
    if code:
        query = query.where(c.event_code == code)
    if camera:
        query = query.where(c.camera_id == camera)
    if overdue_at is not None:
        query = query.where(
            or_(
                and_(c.state == CaseState.DISPATCHED, c.deadline < overdue_at),
                and_(c.state == CaseState.HANDLED, c.verify_deadline < overdue_at),
            )
        )
    return query


def events_by_case(conn: Connection, case_ids: Sequence[int]) -> dict[int, list[Any]]:
    """Each case's events, in time order (one query per 2,000 cases)."""
    out: dict[int, list[Any]] = {i: [] for i in case_ids}
    e = EVENTS.c
    for i in range(0, len(case_ids), _CHUNK):
        stmt = (
            select(EVENTS)
            .where(e.case_id.in_(case_ids[i : i + _CHUNK]))
            .order_by(e.t_event, e.event_id)
        )
        for row in conn.execute(stmt):
            out[row.case_id].append(row)
    return out


def _types(settings: Settings, required: bool) -> EventTypes | None:
    try:
        return EventTypes.load(settings.aggregator.event_types_file)
    except ConfigError as exc:
        if required:
            raise click.ClickException(f"invalid event types:\n{exc}") from None
        return None


def _engine(ctx: click.Context, db_url: str | None) -> Any:
    from gridwatch.db import open_db

    return open_db(settings_from(ctx).database_url(db_url))


@click.group()
def cases() -> None:
    """Cases: what cameras found, in the grid that owns the place, through the workflow."""


@cases.command("list")
@db_option
@click.option("--state", type=click.Choice([str(s) for s in CaseState]), help="Only this state.")
@click.option("--code", help="Only this event code, e.g. 05-05.")
@click.option("--street", help="Street/town code or name.")
@click.option("--community", help="Community code or name.")
@click.option("--grid", "grid_code", help="Grid code or name.")
@click.option("--camera", help="Only cases of this camera.")
@click.option("--overdue", is_flag=True, help="Only cases past the deadline of their stage.")
@click.option("--limit", type=click.IntRange(min=0), default=0, help="At most this many (0: all).")
@json_option
@click.pass_context
def list_(
    ctx: click.Context,
    db_url: str | None,
    state: str | None,
    code: str | None,
    street: str | None,
    community: str | None,
    grid_code: str | None,
    camera: str | None,
    overdue: bool,
    limit: int,
    as_json: bool,
) -> None:
    """List cases (newest last)."""
    now = time.time()
    query = case_query(
        state=state,
        code=code,
        street=street,
        community=community,
        grid=grid_code,
        camera=camera,
        overdue_at=now if overdue else None,
    )
    if limit:
        query = query.limit(limit)
    types = _types(settings_from(ctx), required=False)
    with _engine(ctx, db_url).connect() as conn:
        records = [CaseRecord.from_row(row) for row in conn.execute(query)]
        events = events_by_case(conn, [r.id for r in records if r.id is not None])
    out = [case_dict(r, events.get(r.id or 0, []), types, now) for r in records]
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False, indent=1))
        return
    rows = [
        [
            str(c["case_id"]),
            c["event_code"],
            c["event_name"] or "",
            c["state"] + (" (overdue)" if c["overdue"] else ""),
            c["grid_code"],
            str(c["sightings"]),
            c["last_seen"] or "",
            c["department"] or "",
        ]
        for c in out
    ]
    print_table(rows, ["case", "code", "event", "state", "grid", "seen", "last seen", "department"])
    click.echo(f"{len(out)} case(s)")


@cases.command()
@click.argument("case_id", type=int)
@db_option
@json_option
@click.pass_context
def show(ctx: click.Context, case_id: int, db_url: str | None, as_json: bool) -> None:
    """One case: its events, evidence files and timeline."""
    settings = settings_from(ctx)
    evidence_dir = settings.aggregator.evidence_dir or settings.data_dir() / "evidence"
    with _engine(ctx, db_url).connect() as conn:
        row = conn.execute(select(CASES).where(CASES.c.id == case_id)).first()
        if row is None:
            raise click.ClickException(f"no case {case_id}")
        record = CaseRecord.from_row(row)
        events = events_by_case(conn, [case_id])[case_id]
        t = TRANSITIONS.c
        steps = conn.execute(
            select(TRANSITIONS).where(t.case_id == case_id).order_by(t.at, t.id)
        ).all()
    out = case_dict(record, events, _types(settings, required=False), time.time())
    out["evidence_dir"] = str(evidence_dir)
    out["events"] = [_event_dict(e, evidence_dir) for e in events]
    out["timeline"] = [
        {
            "at": _iso(s.at),
            "actor": s.actor,
            "action": s.action,
            "from": s.from_state,
            "to": s.to_state,
            "note": s.note,
            "reason": s.reason,
        }
        for s in steps
    ]
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False, indent=1))
        return
    _print_case(out)


def _event_dict(e: Any, evidence_dir: Path) -> dict[str, Any]:
    return {
        "event_id": e.event_id,
        "incident_id": e.incident_id,
        "phase": e.phase,
        "camera_id": e.camera_id,
        "rule_id": e.rule_id,
        "t_event": _iso(e.t_event),
        "confidence": e.confidence,
        "evidence": [str(evidence_dir / p) for p in e.evidence],
    }


def _print_case(out: dict[str, Any]) -> None:
    click.echo(f"case {out['case_id']}: {out['event_code']} {out['event_name'] or ''}")
    for key in ("state", "department", "grid_path", "grid_code", "camera_ids", "sightings"):
        click.echo(f"  {key}: {out[key]}")
    for key in ("first_seen", "last_seen", "deadline", "verify_deadline"):
        click.echo(f"  {key}: {out[key] or '-'}")
    click.echo(f"events ({len(out['events'])}):")
    for e in out["events"]:
        files = ", ".join(e["evidence"]) or "no evidence"
        click.echo(f"  {e['t_event']}  {e['phase']:5}  {e['camera_id']}  {e['event_id']}  {files}")
    click.echo("timeline:")
    for s in out["timeline"]:
        note = f"  {s['note']}" if s["note"] else ""
        click.echo(f"  {s['at']}  {s['actor']}: {s['from'] or '-'} → {s['to']}{note}")


@cases.command()
@click.argument("case_id", type=int)
@click.argument("state")
@click.option("--note", default="", help="Why (shown in the timeline).")
@click.option("--actor", default=None, help="Who (default: the login name).")
@click.option("--reason", type=click.Choice([str(r) for r in RejectReason]), help="For rejected.")
@click.option("--duplicate-of", type=int, default=None, help="The case this one duplicates.")
@db_option
@click.pass_context
def transition(
    ctx: click.Context,
    case_id: int,
    state: str,
    note: str,
    actor: str | None,
    reason: str | None,
    duplicate_of: int | None,
    db_url: str | None,
) -> None:
    """Move case CASE_ID to STATE (registered, rejected, dispatched, handled, verified,
    closed, or reopened = back to dispatched)."""
    from aggregator.workflow import CaseNotFound, IllegalTransition, parse_target, transition_case

    try:
        target = parse_target(state)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    types = _types(settings_from(ctx), required=True)
    assert types is not None
    try:
        record = transition_case(
            _engine(ctx, db_url),
            case_id,
            target,
            actor=actor or getpass.getuser(),
            types=types,
            note=note,
            reason=reason,
            duplicate_of=duplicate_of,
        )
    except (CaseNotFound, IllegalTransition) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"case {case_id}: {record.from_state} → {record.to_state} ({record.action})")
