"""A full disk is a state, not a crash: a real aggregator process, a real agent process
sending events with evidence, on a real small filesystem (a size-limited tmpfs the test
mounts) that fills under load. While full the aggregator acks nothing, says so in its
log, metrics and /healthz, and keeps running; when space returns it recovers by itself,
and every event is stored exactly once with its files, none left over.

Four layouts: the evidence volume full (database SQLite or PostgreSQL elsewhere), and
the database full (SQLite's file, or a PostgreSQL tablespace, on the small filesystem).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from aggregator.models import EVENTS
from gridwatch.db import make_engine
from tests.aggregator.delivery_helpers import (
    free_port,
    import_cameras,
    loopback,
    stored_event_ids,
    wait_for,
)
from tests.aggregator.full_disk_helpers import ballast, pg_database_on, small_filesystem
from tests.conftest import PG_ADMIN_URL

REPO = Path(__file__).resolve().parents[2]
EVENTS_SENT = 80


class Aggregator:
    """``gridwatch aggregator run`` as a child process, with its metrics port."""

    def __init__(self, tmp: Path, db_url: str, evidence: Path) -> None:
        self.metrics_port = free_port()
        self.endpoint = loopback()
        self.log_path = tmp / "aggregator.log"
        config = tmp / "gridwatch.yaml"
        config.write_text(
            "aggregator:\n  storage:\n    retry_s: 0.5\n  retention:\n    every_s: 0\n"
            "  receiver:\n    commit_max_wait_ms: 20\n"
        )
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "gridwatch.cli", "--config", str(config), "aggregator",
                "run", "--bind", self.endpoint, "--db", db_url, "--evidence-dir", str(evidence),
                "--metrics-port", str(self.metrics_port),
            ],
            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=self._log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def health(self) -> tuple[int, dict[str, Any]]:
        url = f"http://127.0.0.1:{self.metrics_port}/healthz"
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())
        except OSError:
            return 0, {}

    def metric(self, name: str) -> float | None:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as r:
            for line in r.read().decode().splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[1])
        return None

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self._log.close()


def _agent(tmp: Path, endpoint: str, cams: list[str], kb: int) -> subprocess.Popen[bytes]:
    (tmp / "cams.txt").write_text("\n".join(cams))
    args = [endpoint, str(tmp / "outbox.db"), str(tmp / "cams.txt"), str(tmp / "sent.txt")]
    return subprocess.Popen(
        [sys.executable, "-m", "tests.aggregator.full_disk_helpers", *args, str(EVENTS_SENT),
         "20", str(kb)],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip


def _fill(folder: Path, leave_kb: int) -> Path:
    free = shutil.disk_usage(folder).free
    return ballast(folder, max(0, free - leave_kb * 1024) / 2**20)


def _evidence_files(db_url: str, root: Path) -> tuple[dict[str, list[str]], list[Path]]:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(EVENTS.c.event_id, EVENTS.c.evidence)).all()
    finally:
        engine.dispose()
    named = {eid: list(paths or []) for eid, paths in rows}
    on_disk = [p for p in root.rglob("*") if p.is_file() and p.name != "ballast.bin"]
    return named, on_disk


def _fills_and_recovers(
    tmp: Path, db_url: str, evidence: Path, full_dir: Path, *, leave_kb: int, kb: int
) -> None:
    cams = import_cameras(db_url, tmp)
    agg = Aggregator(tmp, db_url, evidence)
    agent = None
    try:
        assert wait_for(lambda: "receiver listening" in agg.log(), timeout=60), agg.log()
        weight = _fill(full_dir, leave_kb)
        agent = _agent(tmp, agg.endpoint, cams, kb)
        # the small filesystem fills under load: a state, not a crash
        assert wait_for(lambda: agg.health()[0] == 503, timeout=90), agg.log()
        _, body = agg.health()
        assert body["status"] == "storage_full" and body["storage"]["reason"], body
        assert agg.metric("gridwatch_storage_full") == 1.0
        assert wait_for(lambda: (tmp / "sent.txt").read_text().count("\n") >= EVENTS_SENT, 60)
        sent = (tmp / "sent.txt").read_text().split()
        assert agg.proc.poll() is None, agg.log()
        assert len(stored_event_ids(db_url)) < len(sent)  # the rest wait in the outbox
        # space returns: the aggregator resumes by itself, the agent's outbox drains
        weight.unlink()
        assert agent.wait(180) == 0, agg.log()
        assert wait_for(lambda: agg.health()[0] == 200, timeout=30), agg.log()
        assert agg.health()[1]["status"] == "ok"
        log = agg.log()
        assert agg.stop() == 0, log
    finally:
        if agent is not None and agent.poll() is None:
            agent.kill()
        agg.stop()
    stored = stored_event_ids(db_url)
    assert len(stored) == len(set(stored)), "an event was stored twice"
    assert set(stored) == set(sent), f"{len(set(sent) - set(stored))} events lost"
    named, on_disk = _evidence_files(db_url, evidence)
    assert all(len(paths) == 2 for paths in named.values())
    for paths in named.values():  # each stored event has its files, whole
        sizes = sorted((evidence / p).stat().st_size for p in paths)
        assert sizes == [kb * 1024, 3 * kb * 1024]
    assert len(on_disk) == 2 * len(stored), "files left over by batches that were not committed"
    # logged once per change of state, not once per refused batch
    fulls, backs = log.count("STORAGE FULL"), log.count("storage writable again")
    assert fulls >= 1 and fulls == backs, log
    assert fulls <= 5, log


def test_full_evidence_volume(db_url: str, tmp_path: Path) -> None:
    with small_filesystem(tmp_path / "evidence", size_mb=8) as evidence:
        _fills_and_recovers(tmp_path, db_url, evidence, evidence, leave_kb=1500, kb=16)


def test_full_sqlite_database(tmp_path: Path) -> None:
    with small_filesystem(tmp_path / "db", size_mb=6) as folder:
        url = f"sqlite:///{folder / 'gridwatch.db'}"
        _fills_and_recovers(tmp_path, url, tmp_path / "evidence", folder, leave_kb=96, kb=1)


@pytest.mark.postgres
def test_full_postgresql_tablespace(pg_available: bool, tmp_path: Path) -> None:
    if not pg_available:
        pytest.skip(f"no PostgreSQL server reachable at {PG_ADMIN_URL}")
    where = Path("/tmp") / f"gw-pg-full-{uuid.uuid4().hex[:8]}"  # the server must reach it
    with (
        small_filesystem(where, size_mb=24, owner="postgres") as folder,
        pg_database_on(folder, PG_ADMIN_URL) as url,
    ):
        _fills_and_recovers(tmp_path, url, tmp_path / "evidence", folder, leave_kb=48, kb=1)
    where.rmdir()
