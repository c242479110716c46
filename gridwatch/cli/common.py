"""Pieces shared by the CLI modules: settings from the context, the --db option, errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from gridwatch.config import ConfigError, Settings, load_settings

F = TypeVar("F", bound=Callable[..., Any])


def settings_from(ctx: click.Context) -> Settings:
    """Load settings once per invocation; a bad config is a clean CLI error."""
    root = ctx.find_root()
    obj = root.obj if isinstance(root.obj, dict) else {}
    root.obj = obj
    if "settings" not in obj:
        try:
            obj["settings"] = load_settings(obj.get("config_file"))
        except ConfigError as exc:
            raise click.ClickException(f"invalid configuration:\n{exc}") from None
    settings = obj["settings"]
    assert isinstance(settings, Settings)
    return settings


def db_option(func: F) -> F:
    """``--db URL``: default from the config file or ``GRIDWATCH_DB``, else SQLite."""
    return click.option(
        "--db",
        "db_url",
        default=None,
        metavar="URL",
        help="Database URL (default: $GRIDWATCH_DB, the config file, else SQLite in data/).",
    )(func)


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(
        func
    )


def print_table(rows: list[list[str]], headers: list[str]) -> None:
    """Print a plain aligned table (display width aware for CJK text)."""
    from unicodedata import east_asian_width

    def width(text: str) -> int:
        return sum(2 if east_asian_width(ch) in "WF" else 1 for ch in text)

    cols = [headers, *rows]
    widths = [max(width(r[i]) for r in cols) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "  ".join(
            c + " " * (w - width(c)) for c, w in zip(row, widths, strict=True)
        ).rstrip()

    click.echo(line(headers))
    click.echo("  ".join("-" * w for w in widths))
    for row in rows:
        click.echo(line(row))
