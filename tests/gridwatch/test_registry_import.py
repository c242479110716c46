"""`gridwatch cameras import/list/show/shard` on real databases (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from gridwatch.cli import cli
from gridwatch.db import CameraRow, open_db, session_scope
from gridwatch.grid.model import GridIndex, Level
from gridwatch.registry.csvfile import read_registry, write_registry
from gridwatch.registry.generate import generate_cameras

PASSWORD_RE = re.compile(r"rtsp://admin:(?!\*\*\*@)[^@/\s]+@")


@pytest.fixture(scope="module")
def grid(repo: Path) -> GridIndex:
    return GridIndex.load(repo / "configs/grid/songjiang.geojson")


@pytest.fixture(scope="module")
def small_registry(grid: GridIndex, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("reg") / "cams.csv"
    write_registry(generate_cameras(grid, 200, seed=3), path)
    return path


def run(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert not PASSWORD_RE.search(result.output), "a camera password was printed"
    return result


def snapshot(url: str) -> list[tuple]:
    with session_scope(open_db(url)) as session:
        return [
            (r.camera_id, r.fingerprint, r.enabled, r.grid_code)
            for r in session.scalars(select(CameraRow).order_by(CameraRow.camera_id))
        ]


def test_demo_registry_imports_and_reimport_is_idempotent(repo: Path, db_url: str) -> None:
    registry = repo / "camera_registry.csv"
    rows = read_registry(registry).rows
    first = run("cameras", "import", str(registry), "--db", db_url)
    assert first.exit_code == 0, first.output
    assert f"{rows} valid: {rows} new, 0 updated, 0 unchanged" in first.output
    again = run("cameras", "import", str(registry), "--db", db_url)
    assert f"0 new, 0 updated, {rows} unchanged" in again.output
    assert len(snapshot(db_url)) == rows


def test_every_camera_is_placed_with_its_full_path(
    small_registry: Path, grid: GridIndex, sqlite_url: str
) -> None:
    assert run("cameras", "import", str(small_registry), "--db", sqlite_url).exit_code == 0
    with session_scope(open_db(sqlite_url)) as session:
        cams = session.scalars(select(CameraRow)).all()
    assert len(cams) == 200
    for cam in cams:
        path = grid.locate(cam.lon, cam.lat)
        assert path is not None and path[-1].code == cam.grid_code
        assert cam.community_code == path[2].code and cam.street_code == path[1].code
        assert cam.grid_path == " › ".join(u.name for u in path)
        assert cam.grid_code.startswith(cam.community_code) and cam.community_code.startswith(
            cam.street_code
        )


def test_bad_rows_are_all_reported_and_nothing_changes(
    small_registry: Path, tmp_path: Path, db_url: str
) -> None:
    assert run("cameras", "import", str(small_registry), "--db", db_url).exit_code == 0
    before = snapshot(db_url)
    lines = small_registry.read_text(encoding="utf-8").splitlines()
    first_id = lines[1].split(",")[0]
    bad = [
        lines[0],
        *lines[1:4],
        "c-bad1,name,rtsp://admin:hunter2@h/1,,121.2,north,,,,",  # line 5: lat not a number
        "c-bad2,name,rtsp://h/1,,-3.7,40.4,,,,",  # line 6: Madrid, outside the grid
        f"{first_id},dup,rtsp://h/1,,121.2,31.0,,,,",  # line 7: duplicate id
        "c-bad3,,rtsp://h/1,,121.2,31.0,,,,",  # line 8: missing name
        'c-bad4,n,rtsp://h/1,,121.2,31.0,,,"[{""purpose"":""no_parking""}]",',  # line 9: zone
        "c-ok,fine,rtsp://admin:pw@h/1,,121.23,31.01,,,,",  # a new valid camera
    ]
    bad_file = tmp_path / "bad.csv"
    bad_file.write_text("\n".join(bad) + "\n", encoding="utf-8")
    result = run("cameras", "import", str(bad_file), "--db", db_url)
    assert result.exit_code == 1
    for expected in (
        ":5: lat:",
        ":6: lon,lat: (-3.7, 40.4) is outside the grid",
        ":7: camera_id: duplicate",
        ":8: name: missing value",
        ":9: zones:",
    ):
        assert expected in result.output, result.output
    assert "5 problem(s) in 5 row(s)" in result.output and "nothing was imported" in result.output
    assert "hunter2" not in result.output
    assert snapshot(db_url) == before

    skipped = run("cameras", "import", str(bad_file), "--db", db_url, "--skip-invalid")
    assert skipped.exit_code == 0, skipped.output
    assert "1 new" in skipped.output and "5 invalid skipped" in skipped.output
    assert {c[0] for c in snapshot(db_url)} == {c[0] for c in before} | {"c-ok"}


def test_update_and_prune(small_registry: Path, tmp_path: Path, sqlite_url: str) -> None:
    assert run("cameras", "import", str(small_registry), "--db", sqlite_url).exit_code == 0
    records = read_registry(small_registry).records
    moved = records[0]
    changed = [
        moved.__class__(
            **{**moved.__dict__, "name": "renamed", "lon": records[-1].lon, "lat": records[-1].lat}
        ),
        *records[1:150],
    ]
    path = tmp_path / "changed.csv"
    write_registry(changed, path)
    # An invalid row (here: no name) for a listed camera must not get it disabled by --prune.
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    rows[2][1] = ""
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    result = run("cameras", "import", str(path), "--db", sqlite_url, "--prune", "--skip-invalid")
    assert result.exit_code == 0, result.output
    were_enabled = sum(r.enabled for r in records[150:])
    assert "1 updated" in result.output and f"{were_enabled} disabled by --prune" in result.output
    state = {c[0]: c for c in snapshot(sqlite_url)}
    assert state[moved.camera_id][3] == state[records[-1].camera_id][3]  # re-placed in its new grid
    assert state[records[1].camera_id][2] is True  # invalid row: protected from prune
    assert all(state[r.camera_id][2] is False for r in records[150:])
    assert all(state[r.camera_id][2] is r.enabled for r in records[2:150])


def test_list_show_filters_and_masking(small_registry: Path, grid: GridIndex, db_url: str) -> None:
    assert run("cameras", "import", str(small_registry), "--db", db_url).exit_code == 0
    cams = json.loads(run("cameras", "list", "--db", db_url, "--json").output)
    assert len(cams) == 200
    assert all("***" in c["main_url"] and "***" in c["sub_url"] for c in cams)
    street = cams[0]["street_code"]
    street_name = grid.units[street].name
    by_code = json.loads(
        run("cameras", "list", "--db", db_url, "--json", "--street", street).output
    )
    by_name = json.loads(
        run("cameras", "list", "--db", db_url, "--json", "--street", street_name).output
    )
    assert by_code == by_name and 0 < len(by_code) < 200
    assert {c["street_code"] for c in by_code} == {street}
    in_grid = json.loads(
        run("cameras", "list", "--db", db_url, "--json", "--grid", cams[0]["grid_code"]).output
    )
    assert cams[0]["camera_id"] in {c["camera_id"] for c in in_grid}
    shown = run("cameras", "show", cams[0]["camera_id"], "--db", db_url)
    assert shown.exit_code == 0 and street_name in shown.output and "***" in shown.output
    missing = run("cameras", "show", "nope", "--db", db_url)
    assert missing.exit_code == 1 and "no camera 'nope'" in missing.output
    table = run("cameras", "list", "--db", db_url, "--limit", "5")
    assert table.exit_code == 0 and "5 camera(s)" in table.output


def test_shard_command_reports_balance(
    small_registry: Path, sqlite_url: str, tmp_path: Path
) -> None:
    assert run("cameras", "import", str(small_registry), "--db", sqlite_url).exit_code == 0
    out = json.loads(run("cameras", "shard", "--db", sqlite_url, "--nodes", "4", "--json").output)
    enabled = sum(1 for r in read_registry(small_registry).records if r.enabled)
    assert out["cameras"] == enabled and out["nodes"] == 4
    assert sum(p["cameras"] for p in out["per_node"]) == enabled
    nodes_file = tmp_path / "nodes.yaml"
    cal = run(
        "cameras",
        "shard",
        "--db",
        sqlite_url,
        "--nodes",
        "4",
        "--calibrate",
        "--write",
        str(nodes_file),
    )
    assert cal.exit_code == 0, cal.output
    assert "fullest node" in cal.output and nodes_file.exists()
    calibrated = json.loads(
        run(
            "--config",
            str(_config_with_nodes(tmp_path, nodes_file)),
            "cameras",
            "shard",
            "--db",
            sqlite_url,
            "--json",
        ).output
    )
    assert calibrated["max_over_fair_share"] <= 1.005 + 1 / (enabled / 4)


def _config_with_nodes(tmp_path: Path, nodes_file: Path) -> Path:
    cfg = tmp_path / "gridwatch.yaml"
    cfg.write_text(f"sharding:\n  nodes_file: {nodes_file}\n", encoding="utf-8")
    return cfg


def test_grid_levels_are_consistent(grid: GridIndex) -> None:
    counts = grid.counts()
    assert (
        counts[Level.DISTRICT],
        counts[Level.STREET],
        counts[Level.COMMUNITY],
        counts[Level.GRID],
    ) == (1, 18, 304, 1322)
