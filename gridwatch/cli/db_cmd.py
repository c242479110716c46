"""``gridwatch db``: schema migrations."""

from __future__ import annotations

import click

from gridwatch.cli.common import db_option, settings_from


@click.group()
def db() -> None:
    """The database schema."""


@db.command()
@db_option
@click.pass_context
def upgrade(ctx: click.Context, db_url: str | None) -> None:
    """Create the tables or migrate them to the newest schema (safe to repeat)."""
    from gridwatch.db import open_db
    from gridwatch.secrets import mask_url

    url = settings_from(ctx).database_url(db_url)
    open_db(url)
    click.echo(f"schema is current: {mask_url(url)}")
