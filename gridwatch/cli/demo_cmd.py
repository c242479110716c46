"""``gridwatch demo``: the main job on embedded defaults.

By default the whole system runs live (see :mod:`gridwatch.demo`): scene cameras over
RTSP, an edge agent, the aggregator with SQLite and the web UI, with a demo login.
``--registry-summary`` instead loads the Songjiang grid, imports the camera registry and
prints the per-street summary with the GPU nodes the cameras spread over.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import click
from sqlalchemy import select

from gridwatch.cli.common import db_option, print_table, settings_from


@click.command()
@click.option(
    "--registry-summary",
    is_flag=True,
    help="Only load the grid, import the registry and print the per-street summary.",
)
@db_option
@click.option(
    "--registry",
    "registry_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Registry CSV (default: registry.file from the config).",
)
@click.option("--port", "web_port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.option(
    "--folder",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Demo folder, made anew (default: <data_dir>/demo).",
)
@click.option(
    "--scenes",
    "scenes_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Scene clips (default: <data_dir>/demo-scenes, made once).",
)
@click.option(
    "--seconds", type=click.FloatRange(min=0), default=0, help="Stop after this long (0: Ctrl-C)."
)
@click.pass_context
def demo(
    ctx: click.Context,
    registry_summary: bool,
    db_url: str | None,
    registry_file: Path | None,
    web_port: int,
    folder: Path | None,
    scenes_dir: Path | None,
    seconds: float,
) -> None:
    """Run the whole system live on embedded defaults (or --registry-summary)."""
    if registry_summary:
        _registry_summary(ctx, db_url, registry_file)
    else:
        _live(ctx, web_port, folder, scenes_dir, seconds)


def _live(
    ctx: click.Context, web_port: int, folder: Path | None, scenes_dir: Path | None, seconds: float
) -> None:
    import secrets
    import signal

    from gridwatch import demo as live
    from gridwatch.scenes.server import RtspServer

    settings = settings_from(ctx)
    data = settings.data_dir()
    scenes = live.make_scenes(scenes_dir or data / "demo-scenes", click.echo)
    password = secrets.token_urlsafe(9)
    stop_requested: list[str] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, _f: stop_requested.append(signal.Signals(signum).name))
    with RtspServer(scenes, user="camera", password=password) as server:
        site = live.prepare(
            settings,
            folder or data / "demo",
            scenes,
            lambda mount: server.url(mount, user="camera", password=password),
            web_port,
            click.echo,
        )
        procs = {
            "aggregator": live.start(
                site, "aggregator", "run", "--web-port", str(web_port), log="aggregator.log"
            ),
            "edge": live.start(site, "edge", "run", "--node", live.NODE, log="edge.log"),
        }
        click.echo(
            f"gridwatch demo is running: {len(live.SCENES)} scene cameras on rtsp://127.0.0.1:"
            f"{server.port}, an edge agent, the aggregator (SQLite in {site.folder})\n"
            f"  web UI:  {site.web_url}\n"
            f"  login:   {site.username} / {site.password}\n"
            "Cases appear after the first incidents (about half a minute). Ctrl-C stops."
        )
        failure = live.wait(procs, site, seconds, lambda: bool(stop_requested), click.echo)
        codes = live.stop_all(list(procs.values()))
    if failure or any(codes):
        raise click.ClickException(failure or f"a demo process failed (exit codes {codes})")
    click.echo("demo stopped cleanly")


def _registry_summary(ctx: click.Context, db_url: str | None, registry_file: Path | None) -> None:
    """Build the grid, import the demo registry, print the per-street summary."""
    from gridwatch.cli.grid_loading import load_grid_file
    from gridwatch.db import CameraRow, GridUnitRow, open_db, session_scope
    from gridwatch.grid.model import Level
    from gridwatch.registry.importer import import_registry
    from gridwatch.registry.store import store_grid
    from gridwatch.secrets import mask_url
    from gridwatch.sharding import assign

    settings = settings_from(ctx)
    url = settings.database_url(db_url)
    registry_file = registry_file or settings.registry.file
    click.echo(f"database: {mask_url(url)}")
    grid = load_grid_file(settings.grid.file)
    counts = grid.counts()
    click.echo(
        f"grid {settings.grid.file}: "
        + " / ".join(f"{counts.get(lvl, 0)} {lvl.value}s" for lvl in Level)
    )
    engine = open_db(url)
    units, _ = store_grid(engine, grid)
    click.echo(f"stored {units} grid units")
    report = import_registry(
        registry_file, url, default_grid=settings.grid.file, echo=lambda m: click.echo(m, err=True)
    )
    if report.errors:
        for error in report.errors:
            click.echo(error.format(str(registry_file)), err=True)
        raise click.ClickException(f"{registry_file} has {len(report.errors)} problem(s)")
    click.echo(
        f"imported {registry_file}: {report.inserted} new, {report.updated} updated, "
        f"{report.unchanged} unchanged"
    )
    with session_scope(engine) as session:
        cams = session.execute(
            select(CameraRow.camera_id, CameraRow.street_code, CameraRow.enabled)
        ).all()
        streets = session.execute(
            select(GridUnitRow.code, GridUnitRow.name).where(
                GridUnitRow.level == Level.STREET.value
            )
        ).all()
    nodes = settings.sharding.nodes
    node_of = assign([c.camera_id for c in cams if c.enabled], nodes).as_dict() if nodes else {}
    per_street = Counter(c.street_code for c in cams)
    enabled = Counter(c.street_code for c in cams if c.enabled)
    communities = Counter(u.parent for u in grid.units.values() if u.level == Level.COMMUNITY)
    grids = Counter(
        grid.units[u.parent].parent
        for u in grid.units.values()
        if u.level == Level.GRID and u.parent
    )
    rows = []
    for code, name in sorted(streets):
        on_nodes = Counter(
            node_of[c.camera_id] for c in cams if c.street_code == code and c.camera_id in node_of
        )
        rows.append(
            [
                code,
                name,
                str(communities[code]),
                str(grids[code]),
                str(per_street[code]),
                str(enabled[code]),
                str(len(on_nodes)),
            ]
        )
    print_table(rows, ["street", "name", "communities", "grids", "cameras", "enabled", "nodes"])
    click.echo(
        f"total: {len(cams)} cameras, {sum(enabled.values())} enabled, over {len(nodes)} node(s)"
    )
