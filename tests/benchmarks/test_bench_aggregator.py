"""`gridwatch bench aggregator` runs end to end (1 agent, a few hundred events, SQLite)."""

import json
from pathlib import Path

from click.testing import CliRunner

from gridwatch.cli import cli


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
