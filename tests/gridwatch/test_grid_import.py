"""`gridwatch grid import`: validate, load into the database, re-place cameras."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select

from gridwatch.cli import cli
from gridwatch.db import CameraRow, GridUnitRow, open_db, session_scope
from gridwatch.grid.generate import generate
from gridwatch.registry.csvfile import write_registry
from gridwatch.registry.generate import generate_cameras


def unit_count(url: str) -> int:
    with session_scope(open_db(url)) as session:
        return session.scalar(select(func.count()).select_from(GridUnitRow)) or 0


def test_import_loads_the_grid(repo: Path, db_url: str) -> None:
    result = CliRunner().invoke(
        cli, ["grid", "import", str(repo / "configs/grid/songjiang.geojson"), "--db", db_url]
    )
    assert result.exit_code == 0, result.output
    assert "loaded 1645 units" in result.output
    assert unit_count(db_url) == 1 + 18 + 304 + 1322
    with session_scope(open_db(db_url)) as session:
        yueyang = session.get(GridUnitRow, "310117001")
        assert yueyang is not None and yueyang.path == "松江区 › 岳阳街道"


def test_broken_grid_is_refused_and_nothing_loaded(
    repo: Path, tmp_path: Path, sqlite_url: str
) -> None:
    data = json.loads((repo / "configs/grid/songjiang.geojson").read_text(encoding="utf-8"))
    grids = [f for f in data["features"] if f["properties"]["level"] == "grid"]
    grids[1]["properties"]["code"] = grids[0]["properties"]["code"]  # duplicate code
    broken = tmp_path / "broken.geojson"
    broken.write_text(json.dumps(data), encoding="utf-8")
    result = CliRunner().invoke(cli, ["grid", "import", str(broken), "--db", sqlite_url])
    assert result.exit_code == 1
    assert "duplicate_code" in result.output and "nothing was loaded" in result.output
    assert unit_count(sqlite_url) == 0


def test_new_grid_re_places_cameras(repo: Path, tmp_path: Path, sqlite_url: str) -> None:
    old = generate(20221)
    registry = tmp_path / "cams.csv"
    write_registry(generate_cameras(old, 100, seed=1), registry)
    runner = CliRunner()
    assert (
        runner.invoke(cli, ["cameras", "import", str(registry), "--db", sqlite_url]).exit_code == 0
    )
    other = tmp_path / "other.geojson"
    other.write_text(json.dumps(generate(5).to_geojson()), encoding="utf-8")
    result = runner.invoke(cli, ["grid", "import", str(other), "--db", sqlite_url])
    assert result.exit_code == 0, result.output
    assert "100 camera(s) re-placed" in result.output
    new = generate(5)
    with session_scope(open_db(sqlite_url)) as session:
        cams = session.scalars(select(CameraRow)).all()
    for cam in cams:
        path = new.locate(cam.lon, cam.lat)
        assert path is not None and cam.grid_code == path[-1].code
        assert cam.grid_path == new.path_names(cam.grid_code)
