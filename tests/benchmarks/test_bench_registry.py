"""`gridwatch bench registry` runs end to end on a small city and writes its JSON."""

import json
from pathlib import Path

from click.testing import CliRunner

from gridwatch.cli import cli


def test_bench_registry_small(tmp_path: Path) -> None:
    out = tmp_path / "registry.json"
    result = CliRunner().invoke(
        cli, ["bench", "registry", "--count", "3000", "--nodes", "10", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "sharding over 10 nodes" in result.output and "modulo N" in result.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["benchmark"] == "registry" and doc["machine"]["cpu_cores"] >= 1
    res = doc["results"]
    assert res["cameras"] == 3000 and res["outside_grid"] == 0
    steps = {s["name"]: s for s in res["steps"]}
    assert steps["import (validate + locate + insert), empty DB"]["inserted"] == 3000
    assert steps["re-import, nothing changed"]["unchanged"] == 3000
    sharding = res["sharding"]
    assert sharding["leave_moved_only_own"] is True
    assert 0.05 < sharding["leave_moved_fraction"] < 0.15  # one node of ten
    assert sharding["modulo_leave_moved_fraction"] > 0.5  # the alternative reshuffles most


def test_bench_registry_quick_headline_keys(tmp_path: Path) -> None:
    out = tmp_path / "quick.json"
    result = CliRunner().invoke(
        cli, ["bench", "registry", "--quick", "--nodes", "25", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "sharding over 25 nodes" in result.output  # --nodes kept, --quick's count
    doc = json.loads(out.read_text(encoding="utf-8"))
    steps = {s["name"]: s for s in doc["results"]["steps"]}
    assert doc["results"]["cameras"] == 20_000
    assert (
        doc["import_seconds"] == steps["import (validate + locate + insert), empty DB"]["seconds"]
    )
    sharding = doc["results"]["sharding"]
    assert doc["balance_max_over_mean"] == sharding["rendezvous_calibrated_max_over_mean"]
    assert doc["moved_fraction_on_leave"] == sharding["leave_moved_fraction"]
    assert 0.02 < doc["moved_fraction_on_leave"] < 0.07  # one node of 25
