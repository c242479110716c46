"""``gridwatch grid``: generate, check and query the district's grid file."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from gridwatch.cli.common import db_option, json_option, settings_from
from gridwatch.cli.grid_loading import load_grid_file, read_grid_json
from gridwatch.grid.model import GridIndex, Level, Unit


@click.group()
def grid() -> None:
    """The district's grid: 1 district, 18 streets, 304 communities, 1322 grids."""


def _grid_file(ctx: click.Context, path: Path | None) -> Path:
    return path if path is not None else settings_from(ctx).grid.file


def _echo_counts(counts: dict[Level, int]) -> None:
    for level in Level:
        click.echo(f"{level.value:<10} {counts.get(level, 0)}")


@grid.command()
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Where to write the GeoJSON (default: grid.file from the config).",
)
@click.option("--seed", type=int, default=None, help="Random seed (default: grid.seed, 20221).")
@click.pass_context
def generate(ctx: click.Context, out: Path | None, seed: int | None) -> None:
    """Build the Songjiang grid deterministically from a seed and write it as GeoJSON."""
    from gridwatch.grid.generate import generate as build
    from gridwatch.grid.generate import write_geojson

    if out is None or seed is None:  # read the config only when a default is needed
        settings = settings_from(ctx)
        out = settings.grid.file if out is None else out
        seed = settings.grid.seed if seed is None else seed
    started = time.perf_counter()
    index = build(seed)
    try:
        write_geojson(index, out)
    except OSError as exc:
        raise click.ClickException(f"cannot write {out}: {exc}") from None
    _echo_counts(index.counts())
    kinds: dict[str, int] = {}
    for unit in index.units.values():
        if unit.level == Level.COMMUNITY and unit.kind:
            kinds[unit.kind] = kinds.get(unit.kind, 0) + 1
    click.echo("communities: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
    elapsed = time.perf_counter() - started
    click.echo(f"wrote {out} (seed {seed}, {elapsed:.1f} s)")


@grid.command()
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False), required=False)
@click.pass_context
def check(ctx: click.Context, file: Path | None) -> None:
    """Check a grid file (default: grid.file): codes, parents, polygons, gaps, overlaps."""
    from gridwatch.grid.check import check_grid

    path = _grid_file(ctx, file)
    report = check_grid(read_grid_json(path))
    _echo_counts(report.counts)
    for problem in report.problems:
        click.echo(str(problem), err=True)
    if report.problems:
        click.echo(f"{path}: {len(report.problems)} problem(s)", err=True)
        raise SystemExit(1)
    click.echo(f"ok: {path} tiles the district without gaps or overlaps")


def _unit_json(unit: Unit) -> dict[str, Any]:
    return {"level": unit.level.value, "code": unit.code, "name": unit.name, "kind": unit.kind}


@grid.command()
@click.argument("lon", type=float)
@click.argument("lat", type=float)
@click.option(
    "--grid",
    "grid_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Grid GeoJSON (default: grid.file from the config).",
)
@json_option
@click.pass_context
def locate(
    ctx: click.Context, lon: float, lat: float, grid_file: Path | None, as_json: bool
) -> None:
    """Print the district › street › community › grid that owns the point LON LAT."""
    path = _grid_file(ctx, grid_file)
    units = load_grid_file(path).locate(lon, lat)
    if units is None:
        click.echo(f"({lon}, {lat}) is outside the grid {path}", err=True)
        raise SystemExit(1)
    if as_json:
        payload = {"lon": lon, "lat": lat, "path": [_unit_json(u) for u in units]}
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    click.echo(" › ".join(u.name for u in units))
    for unit in units:
        click.echo(f"{unit.level.value:<10} {unit.code:<14} {unit.name}")


@grid.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@db_option
@click.pass_context
def import_(ctx: click.Context, file: Path, db_url: str | None) -> None:
    """Validate a grid GeoJSON and load it into the database (re-placing every camera).

    Coverage gaps are reported with their area and do not stop the import (real grids
    often leave rivers out); any other problem does, and nothing is loaded.
    """
    from gridwatch.db import open_db
    from gridwatch.grid.check import check_grid
    from gridwatch.registry.store import ImportAborted, store_grid

    data = read_grid_json(file)
    report = check_grid(data)
    blocking = [p for p in report.problems if p.kind != "gap"]
    for problem in report.problems:
        prefix = "warning: " if problem.kind == "gap" else ""
        click.echo(f"{prefix}{problem}", err=True)
    if blocking:
        click.echo(f"error: {len(blocking)} problem(s) in {file}; nothing was loaded", err=True)
        raise SystemExit(1)
    index = GridIndex.from_geojson(data)
    try:
        units, cameras = store_grid(open_db(settings_from(ctx).database_url(db_url)), index)
    except ImportAborted as exc:
        raise click.ClickException(f"{exc}; nothing was loaded") from None
    _echo_counts(report.counts)
    click.echo(f"loaded {units} units from {file}; {cameras} camera(s) re-placed")
