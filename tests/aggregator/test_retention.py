"""Retention on real databases (SQLite and PostgreSQL) and real evidence files: what the
rules delete, what an open case keeps, the dry run, the CLI and the aggregator's schedule
as real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from aggregator.config import RetentionConfig
from aggregator.models import CASES, EVENTS, SIGHTING_COUNTS
from aggregator.retention import DAY, Retention
from aggregator.upkeep import storage_stats
from gridwatch.protocol import EventPhase
from tests.aggregator.delivery_helpers import wait_for
from tests.aggregator.test_store import event, incoming, make_registry, make_store

REPO = Path(__file__).resolve().parents[2]
NOW = time.time()
RULES = RetentionConfig(clip_days=30, closed_case_days=30, caseless_days=60, sighting_days=90)
SNAP, CLIP, CROP = 1000, 5000, 500
START_BLOBS = {"snapshot.jpg": b"\xff" * SNAP, "clip.mp4": b"\x00" * CLIP}


def _make(engine: Engine, tmp_path: Path) -> dict[str, Any]:
    """Events of every kind the rules tell apart; returns them by name (see the test)."""
    store = make_store(engine, tmp_path)

    def start(days: float, camera: str = "cam-1") -> str:
        ev = event(camera=camera, t=NOW - days * DAY, evidence=tuple(START_BLOBS))
        store.commit_events([incoming(ev, START_BLOBS)])
        return ev.event_id

    def caseless_end(days: float, blobs: dict[str, bytes]) -> str:
        ev = event(camera="cam-3", t=NOW - days * DAY, phase=EventPhase.END, evidence=tuple(blobs))
        store.commit_events([incoming(ev, blobs)])
        return ev.event_id

    crops = {n: b"\xfe" * CROP for n in ("before.jpg", "object.jpg", "after.jpg")}
    end_with_clip = {"snapshot.jpg": b"\xff" * SNAP, "clip.mp4": b"c" * CLIP}
    made = {
        "open_old": start(100),  # its case is open: nothing of it goes
        "closed_long_old": start(100, "cam-2"),  # case closed 40 d ago, event 100 d: row goes
        "closed_long": start(45),  # case closed 40 d ago: evidence goes, the row stays
        "closed_lately": start(45, "cam-2"),  # case closed 5 d ago: kept
        "rejected_long": start(50, "cam-3"),  # rejected 40 d ago: evidence goes
        "recent_open": start(10),
        "caseless_clip": caseless_end(45, end_with_clip),
        "caseless_old": caseless_end(70, {"snapshot.jpg": b"\xff" * SNAP, **crops}),
    }
    settle = {
        "closed_long_old": ("closed", 40),
        "closed_long": ("closed", 40),
        "closed_lately": ("closed", 5),
        "rejected_long": ("rejected", 40),
    }
    with engine.begin() as conn:
        for name, (state, days) in settle.items():
            case_id = conn.execute(
                select(EVENTS.c.case_id).where(EVENTS.c.event_id == made[name])
            ).scalar_one()
            conn.execute(
                update(CASES)
                .where(CASES.c.id == case_id)
                .values(state=state, closed_at=NOW - days * DAY)
            )
    return made


def _files(tmp_path: Path, event_id: str) -> list[str]:
    return sorted(p.name for p in (tmp_path / "evidence").rglob(f"{event_id}/*"))


def _row(engine: Engine, event_id: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(EVENTS).where(EVENTS.c.event_id == event_id)).first()


def test_the_rules_delete_old_evidence_and_rows_and_keep_what_open_cases_need(
    db_url: str, tmp_path: Path
) -> None:
    engine = make_registry(db_url)
    made = _make(engine, tmp_path)
    before = storage_stats(engine)
    assert before["evidence_bytes"] == {"clip": 7 * CLIP, "image": 8 * SNAP + 3 * CROP}
    retention = Retention(engine, tmp_path / "evidence", RULES)

    dry = retention.run(dry_run=True, now=NOW)
    assert storage_stats(engine)["evidence_bytes"] == before["evidence_bytes"]  # untouched
    assert all(_files(tmp_path, e) for e in made.values())
    # clips of: closed_long_old, closed_long, rejected_long (settled 40 d ago), caseless_clip
    assert (dry.clips.count, dry.clips.bytes) == (4, 4 * CLIP)
    # images of the three settled cases' events and of the 70-day-old caseless event
    assert (dry.images.count, dry.images.files) == (4, 3 + 4)
    assert dry.images.bytes == 4 * SNAP + 3 * CROP
    assert dry.rows.count == 1  # closed_long_old: 100 days, its case settled 40 days ago
    assert dry.kept.count == 2  # open_old and closed_lately are past a cutoff, kept
    assert dry.clips.oldest == pytest.approx(NOW - 100 * DAY)
    assert dry.clips.newest == pytest.approx(NOW - 45 * DAY)

    done = retention.run(now=NOW)
    assert (done.clips.count, done.images.count, done.rows.count) == (4, 4, 1)
    assert dry.count_rows == done.count_rows == 1
    assert done.clips.bytes + done.images.bytes == dry.clips.bytes + dry.images.bytes
    kept = ["clip.mp4", "snapshot.jpg"]
    assert _files(tmp_path, made["open_old"]) == kept
    assert _files(tmp_path, made["closed_lately"]) == kept
    assert _files(tmp_path, made["recent_open"]) == kept
    for gone in ("closed_long_old", "closed_long", "rejected_long", "caseless_old"):
        assert _files(tmp_path, made[gone]) == [], gone
    assert _files(tmp_path, made["caseless_clip"]) == ["snapshot.jpg"]  # only its clip went
    # rows: what is left names only what is left
    assert _row(engine, made["closed_long_old"]) is None
    closed = _row(engine, made["closed_long"])
    assert (closed.evidence, closed.evidence_level, closed.clip_bytes) == ([], 0, 0)
    clipless = _row(engine, made["caseless_clip"])
    assert clipless.evidence_level == 1 and clipless.evidence[0].endswith("snapshot.jpg")
    assert (clipless.clip_bytes, clipless.image_bytes) == (0, SNAP)
    # the deleted sighting lives on as an hourly count of its case
    with engine.connect() as conn:
        (counted,) = conn.execute(select(SIGHTING_COUNTS)).all()
    assert (counted.camera_id, counted.events, counted.phase) == ("cam-2", 1, "start")
    assert counted.hour <= NOW - 100 * DAY < counted.hour + 3600
    after = storage_stats(engine)
    assert after["evidence_bytes"] == {"clip": 3 * CLIP, "image": 4 * SNAP}
    assert after["rows"]["events"] == 7 and after["rows"]["sighting_counts"] == 1

    again = retention.run(now=NOW)  # nothing more to do; the open cases still keep theirs
    assert (again.clips.count, again.images.count, again.rows.count) == (0, 0, 0)
    assert again.kept.count == 2


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gridwatch.cli", *args],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _config(tmp_path: Path, **retention: float) -> Path:
    path = tmp_path / "gridwatch.yaml"
    lines = [f"    {k}: {v}" for k, v in {**RULES.model_dump(), **retention}.items()]
    path.write_text("aggregator:\n  retention:\n" + "\n".join(lines) + "\n")
    return path


def test_the_cli_dry_run_says_what_would_go_and_the_run_deletes_it(
    db_url: str, tmp_path: Path
) -> None:
    engine = make_registry(db_url)
    made = _make(engine, tmp_path)
    config, evidence = _config(tmp_path), str(tmp_path / "evidence")
    base = ["--config", str(config), "retention", "run", "--db", db_url, "--evidence-dir", evidence]
    dry = _cli(*base, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "dry run: nothing deleted" in dry.stdout
    assert "clips (events older than 30 d)" in dry.stdout
    assert _files(tmp_path, made["closed_long"]) == ["clip.mp4", "snapshot.jpg"]
    as_json = json.loads(_cli(*base, "--dry-run", "--json").stdout)
    assert as_json["dry_run"] and as_json["clips"]["count"] == 4 and as_json["rows"]["count"] == 1
    assert as_json["clips"]["oldest"] == pytest.approx(NOW - 100 * DAY, abs=2)
    real = _cli(*base, "--json")
    assert real.returncode == 0, real.stderr
    assert json.loads(real.stdout)["images"]["files"] == 7
    assert _files(tmp_path, made["closed_long"]) == [] and _files(tmp_path, made["open_old"])
    stats = _cli("retention", "stats", "--db", db_url, "--json")
    assert json.loads(stats.stdout)["rows"]["events"] == 7


def test_the_aggregator_runs_retention_on_its_schedule(sqlite_url: str, tmp_path: Path) -> None:
    engine = make_registry(sqlite_url)
    made = _make(engine, tmp_path)
    from tests.aggregator.delivery_helpers import free_port, loopback

    metrics_port = free_port()
    log = open(tmp_path / "aggregator.log", "wb")  # noqa: SIM115 - closed with the process
    agg = subprocess.Popen(
        [
            sys.executable, "-m", "gridwatch.cli", "--config", str(_config(tmp_path, every_s=1)),
            "aggregator", "run", "--bind", loopback(), "--db", sqlite_url,
            "--evidence-dir", str(tmp_path / "evidence"), "--metrics-port", str(metrics_port),
        ],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        assert wait_for(lambda: _files(tmp_path, made["closed_long"]) == [], timeout=60), (
            tmp_path / "aggregator.log"
        ).read_text()
        import urllib.request

        def scrape() -> str:
            with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics") as r:
                return str(r.read().decode())

        assert wait_for(lambda: 'gridwatch_table_rows{table="events"} 7.0' in scrape(), 30)
        text = scrape()
        assert 'gridwatch_retention_deleted_total{what="rows"} 1.0' in text
        assert "gridwatch_evidence_volume_free_bytes" in text
        assert _files(tmp_path, made["open_old"]) == ["clip.mp4", "snapshot.jpg"]
        agg.send_signal(signal.SIGTERM)
        assert agg.wait(30) == 0
    finally:
        if agg.poll() is None:
            agg.kill()
        log.close()
