"""The README's main command on embedded defaults: grid, demo registry, per-street summary."""

import re
import subprocess
import sys
from pathlib import Path

from gridwatch.registry.csvfile import read_registry


def test_demo_builds_grid_imports_registry_and_summarises(repo: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    out = subprocess.run(
        [sys.executable, "-m", "gridwatch.cli", "demo", "--registry-summary", "--db", url],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    rows = read_registry(repo / "camera_registry.csv").rows
    assert "stored 1645 grid units" in out.stdout
    assert f"{rows} new" in out.stdout
    assert "岳阳街道" in out.stdout and "松江工业区" in out.stdout
    assert re.search(rf"total: {rows} cameras, \d+ enabled, over 2 node\(s\)", out.stdout)
    assert not re.search(r"rtsp://admin:(?!\*\*\*@)[^@/\s]+@", out.stdout + out.stderr)
    again = subprocess.run(
        [sys.executable, "-m", "gridwatch.cli", "demo", "--registry-summary", "--db", url],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert f"0 new, 0 updated, {rows} unchanged" in again.stdout
