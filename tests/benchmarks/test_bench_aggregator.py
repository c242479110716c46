"""`gridwatch bench aggregator` runs end to end (1 agent, a few hundred events, SQLite)."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from gridwatch.cli import cli

REPO = Path(__file__).resolve().parents[2]


def test_bench_aggregator_small(tmp_path: Path) -> None:
    out = tmp_path / "aggregator.json"
    args = ["bench", "aggregator", "--agents", "1", "--rate", "100", "--burst", "5"]
    args += ["--seconds", "3", "--cameras", "500", "--json", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "count check" in result.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["benchmark"] == "aggregator" and doc["machine"]["cpu_cores"] >= 1
    assert doc["results"]["ok"] is True
    run = doc["results"]["runs"][0]
    assert run["count_check_ok"] is True
    counts = run["counts"]
    assert counts["sent"] == counts["stored_distinct"] == counts["acked"] == 300
    assert counts["start_events_without_case"] == 0 and counts["rejected"] == 0
    assert run["events_per_s"] > 0 and run["latency_s"]["p99"] is not None


def test_bench_aggregator_quick_json_has_the_headline_keys(tmp_path: Path) -> None:
    out = tmp_path / "quick.json"
    args = ["bench", "aggregator", "--quick", "--agents", "1", "--seconds", "2"]
    result = CliRunner().invoke(cli, [*args, "--json", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    run = doc["results"]["runs"][0]
    assert doc["results"]["options"]["rate"] == 300 and doc["results"]["options"]["cameras"] == 2000
    assert doc["sent"] == doc["acked"] == run["counts"]["acked"] == 600
    assert (doc["lost"], doc["duplicated"]) == (0, 0)
    assert doc["events_per_s"] == run["events_per_s"] > 0
    assert doc["p99_ms"] == run["latency_s"]["p99"] * 1000


def test_bench_connect_survives_an_aggregator_killed_twice(tmp_path: Path) -> None:
    """`--connect` against a running aggregator that is SIGKILLed and restarted twice
    while the events flow: every event acked, none lost, none counted twice."""
    from benchmarks.aggregator import register_city
    from benchmarks.aggregator_sender import free_endpoint

    db = f"sqlite:///{tmp_path / 'agg.db'}"
    register_city(db, 500, REPO / "configs/grid/songjiang.geojson", tmp_path)
    endpoint = free_endpoint()
    gridwatch = str(Path(sys.executable).with_name("gridwatch"))
    agg = [gridwatch, "aggregator", "run", "--bind", endpoint, "--db", db, "--metrics-port", "0"]
    agg += ["--evidence-dir", str(tmp_path / "evidence")]
    chaos_cmd = [sys.executable, "-m", "benchmarks.aggregator_chaos", "--kills", "2"]
    chaos_cmd += ["--first", "3", "--every", "3", "--log", str(tmp_path / "agg.log")]
    chaos = subprocess.Popen(
        [*chaos_cmd, "--", *agg],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        text=True,
    )
    out = tmp_path / "connect.json"
    try:
        args = ["bench", "aggregator", "--connect", endpoint, "--db", db, "--events", "3000"]
        args += ["--agents", "2", "--rate", "150", "--json", str(out)]
        started = time.time()
        result = CliRunner().invoke(cli, args)
        ended = time.time()
    finally:
        chaos.terminate()
        kills = [json.loads(line) for line in chaos.communicate(timeout=60)[0].splitlines()]
    assert result.exit_code == 0, result.output
    assert chaos.returncode == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert len(kills) == 2 and doc["results"]["mode"] == "connect"
    assert doc["sent"] == doc["acked"] == 3000
    assert (doc["lost"], doc["duplicated"]) == (0, 0)
    assert doc["results"]["stored"]["stored_distinct"] == 3000
    assert doc["events_per_s"] > 0 and doc["p99_ms"] > 0
    # The kills fell while the events flowed (10 s of them), and some waited out a restart.
    assert all(started < k["at"] < ended - 1 for k in kills), (started, kills, ended)
    assert doc["results"]["max_ms"] > 300, doc


def test_bench_connect_needs_a_database_with_cameras(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["bench", "aggregator", "--connect", "tcp://127.0.0.1:9"])
    assert result.exit_code != 0 and "--connect needs --db" in result.output
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    from gridwatch.db import open_db

    open_db(empty)
    args = ["bench", "aggregator", "--connect", "tcp://127.0.0.1:9", "--db", empty]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code != 0 and "no enabled cameras registered" in result.output
