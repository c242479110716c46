"""``gridwatch grid`` commands, through click's runner and once through the real script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from gridwatch.cli import cli
from gridwatch.grid.generate import generate, geojson_text
from gridwatch.grid.model import GridIndex

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "configs" / "grid" / "songjiang.geojson"
YUEYANG = "310117001"


@pytest.fixture(scope="module")
def index() -> GridIndex:
    return GridIndex.load(COMMITTED)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A config file whose grid.file is the committed grid."""
    path = tmp_path / "gridwatch.yaml"
    path.write_text(f"grid:\n  file: {COMMITTED}\n  seed: 5\n", encoding="utf-8")
    return path


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_check_script_on_the_committed_grid() -> None:
    script = Path(sys.executable).parent / "gridwatch"
    proc = subprocess.run(
        [str(script), "grid", "check", str(COMMITTED)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.split()
    for level, count in (
        ("district", "1"),
        ("street", "18"),
        ("community", "304"),
        ("grid", "1322"),
    ):
        assert lines[lines.index(level) + 1] == count
    assert proc.stderr == ""


def test_check_broken_file_exits_1_and_names_the_problem(tmp_path: Path) -> None:
    data = json.loads(COMMITTED.read_text(encoding="utf-8"))
    data["features"].append(data["features"][-1])
    broken = tmp_path / "broken.geojson"
    broken.write_text(json.dumps(data), encoding="utf-8")
    code, out, err = run("grid", "check", str(broken))
    assert code == 1
    grid_code = data["features"][-1]["properties"]["code"]
    assert f"{grid_code}: duplicate_code" in err
    assert "grid       1323" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        ("{not json", "cannot read grid file"),
    ],
)
def test_check_unreadable_file_is_a_clean_error(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "grid.geojson"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    code, _, err = run("grid", "check", str(path))
    assert code == 1
    assert message in err and "Traceback" not in err


def test_locate_inside_prints_the_path(index: GridIndex) -> None:
    spot = index.units[YUEYANG].geometry.representative_point()
    code, out, _ = run("grid", "locate", str(spot.x), str(spot.y), "--grid", str(COMMITTED))
    assert code == 0
    assert out.splitlines()[0].startswith("松江区 › 岳阳街道 › ")
    assert f"street     {YUEYANG}" in out
    code, out, _ = run(
        "grid", "locate", str(spot.x), str(spot.y), "--grid", str(COMMITTED), "--json"
    )
    payload = json.loads(out)
    assert [u["level"] for u in payload["path"]] == ["district", "street", "community", "grid"]
    assert payload["path"][1] == {
        "level": "street",
        "code": YUEYANG,
        "name": "岳阳街道",
        "kind": "subdistrict",
    }


def test_locate_uses_the_configured_grid_file(config: Path, index: GridIndex) -> None:
    spot = index.units[YUEYANG].geometry.representative_point()
    code, out, _ = run("--config", str(config), "grid", "locate", str(spot.x), str(spot.y))
    assert code == 0
    assert "岳阳街道" in out


def test_locate_outside_exits_1_with_the_message_on_stderr() -> None:
    code, out, err = run("grid", "locate", "120.0", "31.0", "--grid", str(COMMITTED))
    assert code == 1
    assert out == ""
    assert f"(120.0, 31.0) is outside the grid {COMMITTED}" in err


def test_locate_with_a_broken_grid_is_a_clean_error(tmp_path: Path) -> None:
    path = tmp_path / "grid.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [{}]}', encoding="utf-8")
    code, _, err = run("grid", "locate", "121.2", "31.0", "--grid", str(path))
    assert code == 1
    assert "not a usable grid" in err and "feature #0" in err


def test_generate_writes_the_seeded_grid(tmp_path: Path, config: Path) -> None:
    out = tmp_path / "sub" / "grid.geojson"
    code, stdout, _ = run("--config", str(config), "grid", "generate", "--out", str(out))
    assert code == 0
    assert "grid       1322" in stdout and f"wrote {out} (seed 5" in stdout
    assert out.read_text(encoding="utf-8") == geojson_text(generate(5))
