"""``gridwatch demo``: the main job on embedded defaults.

Until the edge pipeline and the aggregator exist, the main job is the registry: load the
Songjiang grid into the database, import the demo camera registry, and print the
per-street summary with the node each camera would run on.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import click
from sqlalchemy import select

from gridwatch.cli.common import db_option, print_table, settings_from


@click.command()
@db_option
@click.option(
    "--registry",
    "registry_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Registry CSV (default: registry.file from the config).",
)
@click.pass_context
def demo(ctx: click.Context, db_url: str | None, registry_file: Path | None) -> None:
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
