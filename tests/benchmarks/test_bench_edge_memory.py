"""The per-camera budget's arithmetic and measures: the RSS fit, the split, a real
shared-memory slot's resident bytes; and ``bench edge --ingest-only`` end to end (slow)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from benchmarks.edge_memory import fit, memory_split, proc_memory, shm_resident_bytes, split_row
from edge_agent.ingest.frames import FrameSlot
from gridwatch.cli import cli
from gridwatch.scenes.testing import require_gstreamer


def test_the_fit_gives_the_fixed_part_and_the_slope() -> None:
    assert fit([(8, 100.0), (16, 140.0), (32, 220.0)]) == (60.0, 5.0)
    assert fit([(4, 40.0)]) == (0.0, 10.0)
    steps = [
        {"ok": True, "cameras": k, "memory_total_mb": 300 + 4.5 * k,
         "memory_agent_private_mb": 200 + 2.5 * k, "memory_workers_private_mb": 100 + 1.0 * k,
         "memory_agent_untrimmed_mb": 210 + 3 * k, "slot_mb_per_camera": 1.0,
         "analyzer_parts_mb": {"clip_ring": 0.4, "static": 2.3}}
        for k in (8, 16, 32, 64)
    ]  # fmt: skip
    split = memory_split(steps)
    assert split["fixed_mb"] == pytest.approx(300.0)
    assert split["per_camera_mb"] == pytest.approx(4.5)
    assert split["per_camera_workers_mb"] == pytest.approx(1.0)
    assert split["per_camera_agent_mb"] == pytest.approx(2.5)
    row = split_row("720p", split)
    assert row[:4] == ["720p", "8,16,32,64", "300", "4.50"] and row[7] == "0.40"


def test_a_slot_is_resident_only_where_written() -> None:
    slot = FrameSlot.create(max_side=960)
    try:
        empty = shm_resident_bytes([slot.name])
        writer = FrameSlot.attach(slot.name)
        writer.write(np.ones((360, 640, 3), np.uint8), pts_s=0.0, t_wall=0.0, keyframe=True)
        written = shm_resident_bytes([slot.name])
        assert empty < 64 * 1024 and 640 * 360 * 3 <= written < 960 * 960 * 3
        writer.close()
    finally:
        slot.close()
    me = proc_memory("self")
    assert me["private_mb"] > 10 and me["rss_mb"] >= me["private_mb"]


@pytest.mark.slow
def test_bench_edge_ingest_only(tmp_path: Path) -> None:
    require_gstreamer()
    out = tmp_path / "ingest.json"
    args = ["bench", "edge", "--ingest-only", "--steps", "2,4", "--seconds", "4"]
    args += ["--sizes", "360p", "--gops", "25", "--interval", "1", "--json", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "memory split" in result.output
    doc = json.loads(out.read_text(encoding="utf-8"))["results"]
    series = doc["series"]["360p-g25"]
    assert [s["cameras"] for s in series["steps"]] == [2, 4]
    step = series["steps"][-1]
    assert step["ingest_cpu_per_camera_s"] > 0 and step["slot_mb_per_camera"] > 0.5
    assert step["analyzer_parts_mb"]["static"] > 1.0
    assert series["memory"]["per_camera_mb"] is not None
