"""``gridwatch bench``: benchmarks that print tables and write JSON (see benchmarks/README.md)."""

from __future__ import annotations

from pathlib import Path

import click

from gridwatch.cli.common import settings_from


@click.group()
def bench() -> None:
    """Throughput and scale benchmarks."""


@bench.command()
@click.option("--count", type=click.IntRange(min=100), default=200_000, show_default=True)
@click.option("--nodes", "node_count", type=click.IntRange(min=2), default=100, show_default=True)
@click.option(
    "--db", "db_url", default=None, help="Database URL (default: a temporary SQLite file)."
)
@click.option("--json", "json_path", type=click.Path(path_type=Path, dir_okay=False), default=None)
@click.pass_context
def registry(
    ctx: click.Context, count: int, node_count: int, db_url: str | None, json_path: Path | None
) -> None:
    """Generate, validate, locate, import and shard a city of cameras."""
    from benchmarks.registry import run

    run(count, node_count, db_url, settings_from(ctx).grid.file, json_path)
