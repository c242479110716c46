"""`gridwatch bench small-objects`: the three ways of finding a small far car, side by side."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from gridwatch.cli import cli
from gridwatch.scenes import sprites


@pytest.mark.slow
def test_bench_small_objects(
    tmp_path: Path, weights_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not sprites.VTEST.is_file():
        pytest.skip(f"{sprites.VTEST} missing: install opencv-doc")
    monkeypatch.setenv("GRIDWATCH_WEIGHTS_DIR", str(weights_dir))
    out = tmp_path / "small.json"
    args = ["bench", "small-objects", "--sizes", "0.25", "--seconds", "35", "--json", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    (size,) = json.loads(out.read_text(encoding="utf-8"))["results"]["sizes"]
    for approach in ("full_frame", "sliced", "second_look"):
        assert 0 <= size[approach]["found_share"] <= 1
        assert size[approach]["detector_ms_per_sample"] > 0
    # the car is too small for the full frame; the second look finds it (no timing asserted)
    assert size["second_look"]["found_share"] > size["full_frame"]["found_share"]
