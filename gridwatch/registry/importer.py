"""``cameras import``: validate a registry file, place each camera in its grid, upsert.

All-or-nothing: any invalid row (bad value, duplicate id, point outside the grid) and
nothing is written, unless ``skip_invalid``. The grid is the one stored in the database;
an empty database first receives the configured grid file.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from gridwatch.db import open_db, session_scope
from gridwatch.grid.model import GridIndex
from gridwatch.registry.csvfile import bulk_load, read_registry
from gridwatch.registry.store import (
    ImportReport,
    grid_from_db,
    locate_records,
    store_grid,
    upsert_cameras,
)

PROGRESS_MIN_ROWS = 20_000  # below this a progress bar is only noise


@contextmanager
def _bar(label: str, length: int, enabled: bool) -> Iterator[Callable[[int], None]]:
    if not enabled:
        yield lambda _n: None
        return
    with click.progressbar(length=length, label=label, file=sys.stderr, width=30) as bar:
        yield bar.update


def stored_or_default_grid(url: str, default_grid: Path) -> tuple[GridIndex, bool]:
    """The grid in the database, else ``default_grid``; and whether it is already stored."""
    engine = open_db(url)
    with session_scope(engine) as session:
        grid = grid_from_db(session)
    if grid is not None:
        return grid, True
    from gridwatch.cli.grid_loading import load_grid_file

    return load_grid_file(default_grid), False


def import_registry(
    file: Path,
    url: str,
    *,
    default_grid: Path,
    skip_invalid: bool = False,
    prune: bool = False,
    echo: Callable[[str], None] = print,
    show_progress: bool | None = None,
) -> ImportReport:
    """Import ``file`` into the database at ``url``; see the module docstring.

    A progress bar goes to standard error for large files (``show_progress=None``).
    """
    with bulk_load():
        return _import_registry(file, url, default_grid, skip_invalid, prune, echo, show_progress)


def _import_registry(
    file: Path,
    url: str,
    default_grid: Path,
    skip_invalid: bool,
    prune: bool,
    echo: Callable[[str], None],
    show_progress: bool | None,
) -> ImportReport:
    lines = file.read_bytes().count(b"\n")
    show = lines >= PROGRESS_MIN_ROWS if show_progress is None else show_progress
    with _bar("validating", lines, show) as progress:
        result = read_registry(file, progress=progress)
    report = ImportReport(rows=result.rows, errors=list(result.errors))
    if result.errors and not result.records and not skip_invalid:
        return report
    grid, stored = stored_or_default_grid(url, default_grid)
    placed, outside = locate_records(grid, result.records)
    report.errors = sorted([*report.errors, *outside])
    report.valid = len(placed)
    report.skipped_invalid = result.rows - len(placed)
    if report.errors and not skip_invalid:
        return report
    engine = open_db(url)
    if not stored:
        echo(f"no grid in the database yet: loading {default_grid}")
        store_grid(engine, grid)
    with _bar("importing", len(placed), show) as progress:
        upsert_cameras(
            engine,
            grid,
            placed,
            prune=prune,
            protect=result.seen_ids,
            report=report,
            progress=progress,
        )
    return report
