"""Loading a grid file for a command, with errors a person can act on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from gridwatch.grid.model import GridFormatError, GridIndex


def read_grid_json(path: Path) -> Any:
    """The parsed file, or a clean CLI error naming it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise click.ClickException(
            f"grid file {path} does not exist (make it with `gridwatch grid generate --out {path}`)"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise click.ClickException(f"cannot read grid file {path}: {exc}") from None


def load_grid_file(path: Path) -> GridIndex:
    """Load a grid GeoJSON; a missing or broken file is a clean CLI error."""
    data = read_grid_json(path)
    try:
        return GridIndex.from_geojson(data)
    except GridFormatError as exc:
        raise click.ClickException(
            f"{path} is not a usable grid: {exc} (see `gridwatch grid check {path}`)"
        ) from None
