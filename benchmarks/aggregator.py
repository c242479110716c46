"""``gridwatch bench aggregator``: events from many edge agents into cases, nothing lost.

A city of ``--cameras`` cameras is registered with the real registry importer
(``generate_cameras`` → CSV → ``import_registry``: the same path as ``gridwatch cameras
generate`` + ``cameras import``; its time is reported). A real ``gridwatch aggregator
run`` process binds a loopback port; ``--agents`` sender processes
(:mod:`benchmarks.aggregator_sender`, real DEALER sockets speaking gridwatch.protocol)
each send ``--rate`` events per second in bursts of ``--burst`` for ``--seconds``, with
resends until acked. Then the database is read and checked: events sent == distinct
events stored == events acked, and every START event belongs to exactly one case.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.aggregator_connect import delivery_figures
from benchmarks.aggregator_sender import free_endpoint
from benchmarks.common import Step, print_table, timed, write_json
from gridwatch.secrets import mask_url

REPO = Path(__file__).resolve().parents[1]
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class AggOptions:
    agents: int
    rate: float
    burst: int
    seconds: float
    cameras: int


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def fresh_postgres(admin_url: str = PG_ADMIN) -> tuple[str, str]:
    """Create an empty database; its URL and name (drop it with :func:`drop_postgres`)."""
    from sqlalchemy import create_engine, text

    name = f"gw_bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}", name


def drop_postgres(name: str, admin_url: str = PG_ADMIN) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def register_city(db_url: str, count: int, grid_file: Path, tmp: Path) -> list[str]:
    from gridwatch.grid.model import GridIndex
    from gridwatch.registry.csvfile import write_registry
    from gridwatch.registry.generate import generate_cameras
    from gridwatch.registry.importer import import_registry

    cameras = generate_cameras(GridIndex.load(grid_file), count, seed=11)
    csv_path = tmp / "city.csv"
    write_registry(cameras, csv_path)
    import_registry(
        csv_path, db_url, default_grid=grid_file, echo=lambda _m: None, show_progress=False
    )
    return [c.camera_id for c in cameras]


def _aggregator(endpoint: str, db_url: str, tmp: Path) -> subprocess.Popen[bytes]:
    log = open(tmp / "aggregator.log", "wb")  # noqa: SIM115 - closed with the process
    cmd = [str(Path(sys.executable).with_name("gridwatch")), "aggregator", "run"]
    cmd += ["--bind", endpoint]
    cmd += ["--db", db_url, "--evidence-dir", str(tmp / "evidence"), "--metrics-port", "0"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)


def _senders(endpoint: str, cams: Path, opts: AggOptions, tmp: Path) -> list[dict[str, Any]]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = []
    for i in range(opts.agents):
        out = tmp / f"sender-{i}.json"
        args = [endpoint, f"bench-agent-{i}", str(cams), str(opts.seconds), str(opts.rate)]
        cmd = [sys.executable, "-m", "benchmarks.aggregator_sender", *args, str(opts.burst)]
        procs.append((subprocess.Popen([*cmd, str(out)], cwd=REPO, env=env), out))
    reports = []
    for proc, out in procs:
        try:
            # Building the events comes first; the drain ends after 60 s without an ack.
            code = proc.wait(timeout=2 * opts.seconds + 300)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        report = json.loads(out.read_text()) if out.is_file() else {}
        report["exit_code"] = code
        reports.append(report)
    return reports


def _stored(db_url: str) -> dict[str, Any]:
    from sqlalchemy import func, select

    from aggregator.models import CASES, EVENTS
    from gridwatch.db import make_engine

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            ids = list(conn.execute(select(EVENTS.c.event_id)).scalars())
            starts_without_case = conn.execute(
                select(func.count())
                .select_from(EVENTS)
                .where(EVENTS.c.phase == "start", EVENTS.c.case_id.is_(None))
            ).scalar_one()
            dangling = conn.execute(
                select(func.count())
                .select_from(EVENTS.outerjoin(CASES, EVENTS.c.case_id == CASES.c.id))
                .where(EVENTS.c.case_id.is_not(None), CASES.c.id.is_(None))
            ).scalar_one()
            cases = conn.execute(select(func.count()).select_from(CASES)).scalar_one()
            span = conn.execute(
                select(func.min(EVENTS.c.received_at), func.max(EVENTS.c.received_at))
            ).one()
    finally:
        engine.dispose()
    return {
        "ids": ids,
        "starts_without_case": starts_without_case,
        "case_ids_missing": dangling,
        "cases": cases,
        "received_span_s": (span[1] - span[0]) if span[0] is not None else 0.0,
    }


def run_one(db_url: str, opts: AggOptions, grid_file: Path, tmp: Path) -> dict[str, Any]:
    """One database: register the city, run aggregator + senders, check the counts."""
    steps: list[Step] = []
    with timed(steps, f"register {opts.cameras} cameras (generate + CSV + import)"):
        cams = register_city(db_url, opts.cameras, grid_file, tmp)
    cams_file = tmp / "cameras.txt"
    cams_file.write_text("\n".join(cams))
    endpoint = free_endpoint()
    agg = _aggregator(endpoint, db_url, tmp)
    try:
        time.sleep(2.0)  # imports and bind; senders' DEALERs connect whenever it is up
        if agg.poll() is not None:
            log = (tmp / "aggregator.log").read_text(errors="replace")[-800:]
            return {"ok": False, "error": f"aggregator exited {agg.returncode}: {log}"}
        with timed(steps, "send until every event is acked"):
            reports = _senders(endpoint, cams_file, opts, tmp)
    finally:
        cpu = resource.getrusage(resource.RUSAGE_CHILDREN)  # the senders were waited for
        agg.terminate()
        agg_code = agg.wait(30)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    res = _check(reports, _stored(db_url), opts, steps, agg_code)
    sent = {e for r in reports for e in r.get("sent", [])}
    figures = delivery_figures(db_url, sent)
    res["lost"], res["duplicated"] = figures["lost"], figures["duplicated"]
    res["cpu_s"] = {
        "aggregator": after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime,
        "senders_while_sending": sum(r.get("cpu_s", 0.0) for r in reports),
    }
    return res


def _check(
    reports: list[dict[str, Any]],
    stored: dict[str, Any],
    opts: AggOptions,
    steps: list[Step],
    agg_code: int,
) -> dict[str, Any]:
    sent = [e for r in reports for e in r.get("sent", [])]
    acked = {e: lat for r in reports for e, lat in r.get("acked", {}).items()}
    rejected = {e: why for r in reports for e, why in r.get("rejected", {}).items()}
    ids = stored["ids"]
    first = min((r["first_send"] for r in reports if r.get("first_send")), default=0.0)
    last = max((r["last_ack"] for r in reports if r.get("last_ack")), default=0.0)
    lat = list(acked.values())
    counts = {
        "sent": len(sent),
        "sent_distinct": len(set(sent)),
        "stored": len(ids),
        "stored_distinct": len(set(ids)),
        "acked": len(acked),
        "rejected": len(rejected),
        "unacked_when_senders_gave_up": sum(len(r.get("unacked", [])) for r in reports),
        "start_events_without_case": stored["starts_without_case"],
        "case_ids_missing": stored["case_ids_missing"],
        "cases": stored["cases"],
    }
    count_ok = (
        len(sent) == len(set(sent)) == len(ids) == len(set(ids)) == len(acked)
        and set(sent) == set(ids) == set(acked)
        and not rejected
        and stored["starts_without_case"] == 0
        and stored["case_ids_missing"] == 0
    )
    errors = []
    if not count_ok:
        errors.append(f"count check failed: {counts}")
    bad = [r.get("node", "?") for r in reports if r.get("exit_code") != 0]
    if bad:
        errors.append(f"sender(s) {bad} did not get every ack")
    if agg_code not in (0, -15):
        errors.append(f"aggregator exited {agg_code}")
    return {
        "ok": not errors,
        "error": "; ".join(errors) or None,
        "offered_events_per_s": opts.agents * opts.rate,
        "events_per_s": len(acked) / (last - first) if last > first else 0.0,
        "events_per_s_received": len(ids) / stored["received_span_s"]
        if stored["received_span_s"]
        else 0.0,
        "latency_s": {
            "p50": _percentile(lat, 0.5),
            "p99": _percentile(lat, 0.99),
            "max": max(lat) if lat else None,
        },
        "resends": sum(r.get("resends", 0) for r in reports),
        "senders_prepare_s": max((r.get("prepare_s", 0.0) for r in reports), default=0.0),
        "count_check_ok": count_ok,
        "counts": counts,
        "steps": [{"name": s.name, "seconds": s.seconds} for s in steps],
    }


def run(
    opts: AggOptions, db_urls: list[str | None], grid_file: Path, json_path: Path | None
) -> dict[str, Any]:
    """Each database in turn (None: a temporary SQLite file, "postgresql": a fresh PG db)."""
    results: dict[str, Any] = {"options": opts.__dict__, "runs": []}
    for url in db_urls:
        with tempfile.TemporaryDirectory(prefix="gw-bench-agg-") as name:
            tmp = Path(name)
            pg_name = None
            try:
                if url == "postgresql":
                    url, pg_name = fresh_postgres()
                db = url or f"sqlite:///{tmp / 'aggregator.db'}"
                label = mask_url(url) if url else "sqlite (temporary file)"
                print(f"aggregator on {label}: {opts.agents} agent(s) ...", flush=True)
                res = run_one(db, opts, grid_file, tmp)
            except Exception as exc:  # reported, never hidden: the run is marked failed
                label = mask_url(url) if url else "sqlite"
                res = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            finally:
                if pg_name is not None:
                    drop_postgres(pg_name)
        res["database"] = label
        results["runs"].append(res)
    results["ok"] = all(r["ok"] for r in results["runs"])
    _print(results, opts)
    return write_json(json_path, "aggregator", results, summary=summary(results["runs"]))


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The headline figures, the worst over the runs (``--both``: SQLite and PostgreSQL).

    A failed run without figures makes them None (and ``results.ok`` false).
    """
    done = [r for r in runs if "counts" in r]
    if len(done) < len(runs) or not done:
        return dict.fromkeys(("sent", "acked", "lost", "duplicated", "events_per_s", "p99_ms"))
    p99 = [r["latency_s"]["p99"] for r in done]
    return {
        "sent": sum(r["counts"]["sent_distinct"] for r in done),
        "acked": sum(r["counts"]["acked"] for r in done),
        "lost": sum(r["lost"] for r in done),
        "duplicated": sum(r["duplicated"] for r in done),
        "events_per_s": min(r["events_per_s"] for r in done),
        "p99_ms": None if None in p99 else max(p99) * 1000,
    }


def _print(results: dict[str, Any], opts: AggOptions) -> None:
    rows = []
    for r in results["runs"]:
        if "counts" not in r:
            rows.append([r["database"], "FAILED", "-", "-", "-", "-", "-", "-", r["error"][:100]])
            continue
        lat, c = r["latency_s"], r["counts"]
        fmt = lambda v: "-" if v is None else f"{v * 1000:.0f}"  # noqa: E731
        rows.append(
            [
                r["database"],
                f"{r['events_per_s']:,.0f} (offered {r['offered_events_per_s']:,.0f})",
                f"{fmt(lat['p50'])} / {fmt(lat['p99'])}",
                f"{c['sent']} / {c['stored_distinct']} / {c['acked']}",
                c["cases"],
                f"{r['resends']:,}",
                "{aggregator:.1f} / {senders_while_sending:.1f}".format(**r["cpu_s"])
                if "cpu_s" in r
                else "-",
                "ok" if r["count_check_ok"] else "FAILED",
                r["error"] or "",
            ]
        )
    print_table(
        f"aggregator: {opts.agents} agent(s) × {opts.rate:g} ev/s (burst {opts.burst}) for "
        f"{opts.seconds:g} s, {opts.cameras:,} cameras",
        [
            "database",
            "events/s into cases",
            "send→ack p50/p99 ms",
            "sent/stored/acked",
            "cases",
            "resends",
            "CPU s agg / senders",
            "count check",
            "error",
        ],
        rows,
    )
