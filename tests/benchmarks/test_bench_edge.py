"""`gridwatch bench edge` runs end to end: 2 live RTSP cameras into one agent, 8 s."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from gridwatch.cli import cli
from gridwatch.scenes.testing import require_gstreamer


@pytest.fixture
def weights(weights_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GRIDWATCH_WEIGHTS_DIR", str(weights_dir))
    return weights_dir


def test_bench_edge_cuda_without_gpu_fails_clearly(weights: Path) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    result = CliRunner().invoke(cli, ["bench", "edge", "--cameras", "1", "--device", "cuda"])
    assert result.exit_code != 0
    assert "CUDA is not available" in result.output


@pytest.mark.slow
def test_bench_edge_two_cameras(tmp_path: Path, weights: Path) -> None:
    require_gstreamer()
    out = tmp_path / "edge.json"
    args = ["bench", "edge", "--quick", "--json", str(out)]  # 2 cameras, 360p GOP 25, 8 s
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["benchmark"] == "edge" and doc["results"]["ok"] is True
    step = doc["results"]["steps"][0]
    assert step["ok"] is True and step["cameras"] == 2
    for key in (
        "delivered_fps_per_camera",
        "ingest_cpu_per_camera_s",
        "detector_frames_per_s",
        "mean_batch",
        "motion_skip_rate",
        "rss_per_camera_mb",
        "event_latency_s",
    ):
        assert key in step
    assert step["delivered_fps_per_camera"] > 0 and step["detector_frames_per_s"] > 0
    assert doc["results"]["baseline"]["ok"] is True
    modes = {r["mode"] for r in doc["results"]["decode_only"] if r["ok"]}
    assert modes == {"pyav-key", "pyav-all", "opencv"}
    assert doc["cameras_served"] == doc["results"]["cameras_held"]
    assert doc["baseline_cameras_served"] == doc["results"]["baseline"]["cameras_served"]
    assert 0 < doc["decode_cpu_per_camera_s"] < doc["baseline_decode_cpu_per_camera_s"]
