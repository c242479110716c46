"""SIGKILL the aggregator process again and again while an agent process sends events:
after the last restart every event is stored exactly once (no loss, no duplicate)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.aggregator.delivery_helpers import (
    REPO,
    import_cameras,
    loopback,
    stored_event_ids,
    wait_for,
)

EVENTS = 300
KILLS = 4


def start_aggregator(endpoint: str, db_url: str, tmp: Path, n: int) -> subprocess.Popen[bytes]:
    log = open(tmp / f"aggregator-{n}.log", "wb")  # noqa: SIM115 - closed with the process
    config = tmp / "gridwatch.yaml"
    # A long batch window: many events are received but not yet committed at each kill.
    config.write_text("aggregator:\n  receiver:\n    commit_max_wait_ms: 400\n")
    return subprocess.Popen(
        [
            str(REPO / ".venv/bin/gridwatch"),
            "--config",
            str(config),
            "aggregator",
            "run",
            "--bind",
            endpoint,
            "--db",
            db_url,
            "--evidence-dir",
            str(tmp / "evidence"),
            "--metrics-port",
            "0",
        ],
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def test_sigkilled_aggregator_loses_and_duplicates_nothing(db_url: str, tmp_path: Path) -> None:
    cams = import_cameras(db_url, tmp_path)
    (tmp_path / "cams.txt").write_text("\n".join(cams))
    endpoint = loopback()
    ids_file = tmp_path / "sent.txt"
    agent = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.aggregator.delivery_helpers",
            endpoint,
            str(tmp_path / "outbox.db"),
            str(tmp_path / "cams.txt"),
            str(ids_file),
            str(EVENTS),
            "40",  # 7.5 s of events: the kills land while they flow
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    rng = random.Random(5)
    try:
        for n in range(KILLS):
            agg = start_aggregator(endpoint, db_url, tmp_path, n)
            time.sleep(rng.uniform(1.0, 2.0))
            agg.send_signal(signal.SIGKILL)
            assert agg.wait(10) == -signal.SIGKILL
        agg = start_aggregator(endpoint, db_url, tmp_path, KILLS)
        assert agent.wait(150) == 0, "the agent's outbox did not drain"
        final_log = tmp_path / f"aggregator-{KILLS}.log"
        assert wait_for(lambda: "receiver listening" in final_log.read_text(), timeout=30)
        agg.send_signal(signal.SIGTERM)
        assert agg.wait(20) == 0, (tmp_path / f"aggregator-{KILLS}.log").read_text()
    finally:
        for proc in (agent, agg):
            if proc.poll() is None:
                proc.kill()
    sent = ids_file.read_text().split()
    stored = stored_event_ids(db_url)
    assert len(sent) == EVENTS
    assert len(stored) == len(set(stored)), "an event was stored twice"
    assert set(stored) == set(sent), f"{len(set(sent) - set(stored))} events lost"
    log = (tmp_path / f"aggregator-{KILLS}.log").read_text()
    assert "no CURVE keys" in log and "stopped cleanly" in log


def test_a_fatal_start_error_exits_non_zero(sqlite_url: str, tmp_path: Path) -> None:
    unsafe = f"tcp://0.0.0.0:{loopback().rsplit(':', 1)[1]}"
    agg = start_aggregator(unsafe, sqlite_url, tmp_path, 0)
    assert agg.wait(60) == 1
    assert "without CURVE keys" in (tmp_path / "aggregator-0.log").read_text()
