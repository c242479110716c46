"""``gridwatch bench aggregator --connect``: a load test against a running aggregator.

The aggregator is not ours to start: it runs wherever it runs (a pod, another machine,
:mod:`benchmarks.aggregator_chaos` killing and restarting it). ``--agents`` sender
processes (:mod:`benchmarks.aggregator_sender`, the same lean DEALERs as the managed
bench) publish ``--events`` events in all for cameras registered in ``--db`` and wait
for every ack, resending what is unacked after 5 s, for as long as acks keep coming
(a sender gives up after 60 s without any). Then the database is read:

* ``lost``: events sent that are not stored (an acked one missing would be the worst);
* ``duplicated``: extra rows for one event id, plus sightings counted twice in a case
  (a case's ``sightings`` above the START events it holds): what an aggregator that
  re-processed a resent event after a crash would show;
* ``events_per_s`` (acked / first send → last ack) and ``p99_ms`` (due → ack).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import print_table, write_json
from gridwatch.secrets import mask_url

REPO = Path(__file__).resolve().parents[1]
_CHUNK = 5000


def registered_cameras(db_url: str) -> list[str]:
    """The enabled cameras of the registry in ``db_url`` (events must name known ones)."""
    from sqlalchemy import select

    from gridwatch.db import CameraRow, make_engine

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(CameraRow.camera_id).where(CameraRow.enabled.is_(True))
            ).scalars()
            return list(rows)
    finally:
        engine.dispose()


def delivery_figures(db_url: str, sent: set[str]) -> dict[str, int]:
    """How the events ``sent`` are stored: lost, duplicated, START events, their cases."""
    from sqlalchemy import func, select

    from aggregator.models import CASES, EVENTS
    from gridwatch.db import make_engine

    ids = sorted(sent)
    rows: list[tuple[str, int | None, str]] = []
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            for i in range(0, len(ids), _CHUNK):
                chunk = ids[i : i + _CHUNK]
                rows += [
                    (r.event_id, r.case_id, r.phase)
                    for r in conn.execute(
                        select(EVENTS.c.event_id, EVENTS.c.case_id, EVENTS.c.phase).where(
                            EVENTS.c.event_id.in_(chunk)
                        )
                    )
                ]
            case_ids = sorted({c for _e, c, _p in rows if c is not None})
            over_counted = 0
            for i in range(0, len(case_ids), _CHUNK):
                cases_chunk = case_ids[i : i + _CHUNK]
                starts = (
                    select(EVENTS.c.case_id, func.count().label("n"))
                    .where(EVENTS.c.case_id.in_(cases_chunk), EVENTS.c.phase == "start")
                    .group_by(EVENTS.c.case_id)
                    .subquery()
                )
                extra = conn.execute(
                    select(func.coalesce(func.sum(CASES.c.sightings - starts.c.n), 0))
                    .select_from(CASES.join(starts, CASES.c.id == starts.c.case_id))
                    .where(CASES.c.sightings > starts.c.n)
                ).scalar_one()
                over_counted += int(extra)
    finally:
        engine.dispose()
    stored = {e for e, _c, _p in rows}
    return {
        "stored": len(rows),
        "stored_distinct": len(stored),
        "lost": len(sent - stored),
        "duplicated": len(rows) - len(stored) + over_counted,
        "sightings_counted_twice": over_counted,
        "start_events_without_case": sum(1 for _e, c, p in rows if p == "start" and c is None),
        "cases": len({c for _e, c, _p in rows if c is not None}),
    }


def _senders(
    endpoint: str, cams: Path, events: int, agents: int, rate: float, burst: int, tmp: Path
) -> list[dict[str, Any]]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = []
    for i in range(agents):
        count = events // agents + (1 if i < events % agents else 0)
        out = tmp / f"sender-{i}.json"
        node = f"bench-{os.getpid()}-{i}"
        seconds = max(count / rate, 0.1)
        args = [endpoint, node, str(cams), str(seconds), str(rate), str(burst), str(out)]
        cmd = [sys.executable, "-m", "benchmarks.aggregator_sender", *args, str(count)]
        procs.append((subprocess.Popen(cmd, cwd=REPO, env=env), out, seconds))
    reports = []
    for proc, out, seconds in procs:
        try:
            code = proc.wait(timeout=2 * seconds + 600)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        report = json.loads(out.read_text()) if out.is_file() else {}
        report["exit_code"] = code
        reports.append(report)
    return reports


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(
    endpoint: str,
    db_url: str,
    *,
    events: int,
    agents: int,
    rate: float,
    burst: int,
    json_path: Path | None,
) -> dict[str, Any]:
    """Publish ``events`` events to ``endpoint``, wait for the acks, check ``db_url``."""
    cameras = registered_cameras(db_url)
    if not cameras:
        raise ValueError(
            f"no enabled cameras registered in {mask_url(db_url)}: import a registry first "
            "(gridwatch cameras import, or gridwatch cameras generate + import)"
        )
    print(
        f"publishing {events:,} events from {agents} sender(s) at {rate:g}/s each to "
        f"{endpoint} ({len(cameras):,} cameras in {mask_url(db_url)}) ...",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="gw-bench-connect-") as name:
        tmp = Path(name)
        cams = tmp / "cameras.txt"
        cams.write_text("\n".join(cameras))
        reports = _senders(endpoint, cams, events, agents, rate, burst, tmp)
    sent = {e for r in reports for e in r.get("sent", [])}
    acked = {e: lat for r in reports for e, lat in r.get("acked", {}).items()}
    rejected = {e: why for r in reports for e, why in r.get("rejected", {}).items()}
    first = min((r["first_send"] for r in reports if r.get("first_send")), default=0.0)
    last = max((r["last_ack"] for r in reports if r.get("last_ack")), default=0.0)
    figures = delivery_figures(db_url, sent)
    p99 = _percentile(list(acked.values()), 0.99)
    summary = {
        "sent": len(sent),
        "acked": len(acked),
        "lost": figures["lost"],
        "duplicated": figures["duplicated"],
        "events_per_s": len(acked) / (last - first) if last > first else 0.0,
        "p99_ms": p99 * 1000 if p99 is not None else None,
    }
    errors = []
    if summary["acked"] != summary["sent"] or rejected:
        errors.append(f"{len(sent) - len(acked)} event(s) never acked, {len(rejected)} rejected")
    if summary["lost"] or summary["duplicated"]:
        errors.append(f"lost {summary['lost']}, duplicated {summary['duplicated']}")
    if figures["start_events_without_case"]:
        errors.append(f"{figures['start_events_without_case']} START event(s) without a case")
    results = {
        "mode": "connect",
        "endpoint": endpoint,
        "database": mask_url(db_url),
        "options": {"events": events, "agents": agents, "rate": rate, "burst": burst},
        **summary,
        "rejected": len(rejected),
        "resends": sum(r.get("resends", 0) for r in reports),
        "p50_ms": (_percentile(list(acked.values()), 0.5) or 0.0) * 1000,
        "max_ms": max(acked.values(), default=0.0) * 1000,
        "stored": figures,
        "ok": not errors,
        "error": "; ".join(errors) or None,
    }
    _print(results)
    return write_json(json_path, "aggregator", results, summary=summary)


def _print(r: dict[str, Any]) -> None:
    fmt = lambda v: "-" if v is None else f"{v:,.0f}"  # noqa: E731
    print_table(
        f"aggregator at {r['endpoint']} ({r['database']})",
        ["sent", "acked", "lost", "duplicated", "events/s", "p50 / p99 ms", "resends", "result"],
        [
            [
                f"{r['sent']:,}",
                f"{r['acked']:,}",
                r["lost"],
                r["duplicated"],
                fmt(r["events_per_s"]),
                f"{fmt(r['p50_ms'])} / {fmt(r['p99_ms'])}",
                f"{r['resends']:,}",
                "ok" if r["ok"] else f"FAILED: {r['error']}",
            ]
        ],
    )
