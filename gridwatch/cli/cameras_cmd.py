"""``gridwatch cameras``: generate, import, list, show, probe and shard cameras."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from gridwatch.cli.common import db_option, json_option, print_table, settings_from


@click.group()
def cameras() -> None:
    """The camera registry."""


@cameras.command()
@click.option("--count", type=click.IntRange(min=1), default=3000, show_default=True)
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--grid", "grid_file", type=click.Path(path_type=Path, dir_okay=False), default=None)
@click.pass_context
def generate(ctx: click.Context, count: int, out: Path, seed: int, grid_file: Path | None) -> None:
    """Write a synthetic registry of COUNT cameras spread over the grid (for demos, benchmarks)."""
    from gridwatch.cli.grid_loading import load_grid_file
    from gridwatch.registry.csvfile import write_registry
    from gridwatch.registry.generate import generate_cameras

    grid = load_grid_file(grid_file or settings_from(ctx).grid.file)
    started = time.perf_counter()
    records = generate_cameras(grid, count, seed=seed)
    write_registry(records, out)
    click.echo(f"wrote {len(records)} cameras to {out} in {time.perf_counter() - started:.1f} s")


@cameras.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@db_option
@click.option("--skip-invalid", is_flag=True, help="Import the valid rows even if others are bad.")
@click.option(
    "--prune", is_flag=True, help="Disable registered cameras that the file no longer lists."
)
@click.pass_context
def import_(
    ctx: click.Context, file: Path, db_url: str | None, skip_invalid: bool, prune: bool
) -> None:
    """Validate FILE and upsert its cameras, each placed in its grid cell.

    Every problem is reported with line, column and reason. With any invalid row nothing
    is imported (exit 1) unless --skip-invalid.
    """
    from gridwatch.registry.importer import import_registry

    settings = settings_from(ctx)
    report = import_registry(
        file,
        settings.database_url(db_url),
        default_grid=settings.grid.file,
        skip_invalid=skip_invalid,
        prune=prune,
        echo=lambda msg: click.echo(msg, err=True),
    )
    for error in report.errors:
        click.echo(error.format(str(file)), err=True)
    if report.errors and not skip_invalid:
        click.echo(
            f"error: {len(report.errors)} problem(s) in {len({e.line for e in report.errors})} "
            f"row(s) of {file}; nothing was imported (use --skip-invalid to import the valid rows)",
            err=True,
        )
        sys.exit(1)
    click.echo(
        f"{file}: {report.rows} rows, {report.valid} valid: {report.inserted} new, "
        f"{report.updated} updated, {report.unchanged} unchanged"
        + (f", {report.skipped_invalid} invalid skipped" if report.skipped_invalid else "")
        + (f", {report.disabled_by_prune} disabled by --prune" if prune else "")
    )


def _filters(func: click.decorators.FC) -> click.decorators.FC:
    for option in (
        click.option("--street", help="Street/town code or name."),
        click.option("--community", help="Community code or name."),
        click.option("--grid", "grid_code", help="Grid code or name."),
        click.option(
            "--enabled/--disabled", "enabled", default=None, help="Only enabled/disabled."
        ),
        click.option("--search", help="Substring of the camera id or name."),
    ):
        func = option(func)
    return func


@cameras.command("list")
@db_option
@_filters
@click.option("--limit", type=click.IntRange(min=0), default=0, help="At most this many (0: all).")
@json_option
@click.pass_context
def list_(
    ctx: click.Context,
    db_url: str | None,
    street: str | None,
    community: str | None,
    grid_code: str | None,
    enabled: bool | None,
    search: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List registered cameras (URLs masked)."""
    from gridwatch.db import open_db, session_scope
    from gridwatch.registry.views import camera_dict, camera_query

    engine = open_db(settings_from(ctx).database_url(db_url))
    query = camera_query(
        street=street, community=community, grid=grid_code, enabled=enabled, search=search
    )
    if limit:
        query = query.limit(limit)
    with session_scope(engine) as session:
        cams = [camera_dict(row) for row in session.scalars(query)]
    if as_json:
        click.echo(json.dumps(cams, ensure_ascii=False, indent=1))
        return
    rows = [
        [c["camera_id"], c["name"], "yes" if c["enabled"] else "no", c["grid_code"], c["sub_url"]]
        for c in cams
    ]
    print_table(rows, ["camera_id", "name", "enabled", "grid", "analysis stream"])
    click.echo(f"{len(cams)} camera(s)")


@cameras.command()
@click.argument("camera_id")
@db_option
@json_option
@click.pass_context
def show(ctx: click.Context, camera_id: str, db_url: str | None, as_json: bool) -> None:
    """Show one camera: streams (masked), place, grid path, zones."""
    from gridwatch.db import CameraRow, open_db, session_scope
    from gridwatch.registry.views import camera_dict

    engine = open_db(settings_from(ctx).database_url(db_url))
    with session_scope(engine) as session:
        row = session.get(CameraRow, camera_id)
        if row is None:
            raise click.ClickException(f"no camera {camera_id!r} in the registry")
        cam = camera_dict(row)
    if as_json:
        click.echo(json.dumps(cam, ensure_ascii=False, indent=1))
        return
    for key, value in cam.items():
        if key == "zones":
            value = "; ".join(f"{z['id']}:{z['purpose']}" for z in value) or "(whole frame)"
        elif key == "tags":
            value = ";".join(value)
        click.echo(f"{key:20} {value}")


@cameras.command()
@click.argument("camera_id", required=False)
@click.option("--all", "probe_all", is_flag=True, help="Probe every enabled camera.")
@db_option
@click.option("--main", "use_main", is_flag=True, help="Probe the main stream, not the sub-stream.")
@click.option(
    "--timeout", "timeout_s", type=click.FloatRange(min=0.5), default=5.0, show_default=True
)
@click.option(
    "--wait",
    "max_wait_s",
    type=click.FloatRange(min=1),
    default=15.0,
    show_default=True,
    help="Give up on a stream that shows no second keyframe within this time.",
)
@click.option("--workers", type=click.IntRange(min=1, max=256), default=16, show_default=True)
@json_option
@click.pass_context
def probe(
    ctx: click.Context,
    camera_id: str | None,
    probe_all: bool,
    db_url: str | None,
    use_main: bool,
    timeout_s: float,
    max_wait_s: float,
    workers: int,
    as_json: bool,
) -> None:
    """Open a camera's stream and report codec, resolution, fps, GOP, bitrate, first keyframe.

    Exits 1 if any probed camera failed; each failure names its reason (refused, timeout,
    auth_failed, not_found, no_video, unreachable, error).
    """
    from gridwatch.probe import probe_many

    if bool(camera_id) == probe_all:
        raise click.UsageError("give one CAMERA_ID or --all")
    targets = _probe_targets(settings_from(ctx).database_url(db_url), camera_id, use_main)
    if len(targets) > 1:
        click.echo(f"probing {len(targets)} cameras with {workers} workers...", err=True)
    results = probe_many([url for _, url in targets], workers, timeout_s, max_wait_s)
    records = [
        {"camera_id": cid, **r.to_dict()} for (cid, _), r in zip(targets, results, strict=True)
    ]
    if as_json:
        click.echo(json.dumps(records, ensure_ascii=False, indent=1))
    else:
        _print_probes(records)
    if any(not r.ok for r in results):
        sys.exit(1)


def _probe_targets(url: str, camera_id: str | None, use_main: bool) -> list[tuple[str, str]]:
    """(camera id, stream URL) of one camera, or of every enabled one."""
    from sqlalchemy import select

    from gridwatch.db import CameraRow, open_db, session_scope

    with session_scope(open_db(url)) as session:
        if camera_id is None:
            query = (
                select(CameraRow).where(CameraRow.enabled.is_(True)).order_by(CameraRow.camera_id)
            )
            rows = list(session.scalars(query))
        else:
            row = session.get(CameraRow, camera_id)
            if row is None:
                raise click.ClickException(f"no camera {camera_id!r} in the registry")
            rows = [row]
        return [(r.camera_id, r.main_url if use_main else r.sub_url) for r in rows]


def _print_probes(records: list[dict[str, Any]]) -> None:
    def num(value: float | None, fmt: str) -> str:
        return "-" if value is None else format(value, fmt)

    rows = [
        [
            str(r["camera_id"]),
            "ok" if r["ok"] else f"FAILED: {r['reason']}",
            str(r["codec"] or "-"),
            f"{r['width']}x{r['height']}" if r["width"] else "-",
            num(r["fps"], ".1f"),
            num(r["gop"], "d"),
            num(r["bitrate_kbps"], ".0f"),
            num(r["first_keyframe_s"], ".2f"),
            str(r["url"] if r["ok"] else r["message"]),
        ]
        for r in records
    ]
    headers = ["camera", "result", "codec", "size", "fps", "gop", "kbit/s", "1st key s", "detail"]
    print_table(rows, headers)


@cameras.command()
@db_option
@click.option(
    "--nodes",
    "node_count",
    type=click.IntRange(min=1),
    default=None,
    help="Plan for N equal nodes instead of the configured node list.",
)
@click.option("--calibrate", is_flag=True, help="Tune node biases for an even load.")
@click.option(
    "--write",
    "write_to",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="With --calibrate: write the calibrated node list to this YAML file.",
)
@json_option
@click.pass_context
def shard(
    ctx: click.Context,
    db_url: str | None,
    node_count: int | None,
    calibrate: bool,
    write_to: Path | None,
    as_json: bool,
) -> None:
    """Print how the enabled cameras spread over the GPU nodes, and the balance."""
    from gridwatch.cli.shard_report import shard_report

    settings = settings_from(ctx)
    shard_report(settings, settings.database_url(db_url), node_count, calibrate, write_to, as_json)
