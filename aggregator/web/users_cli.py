"""``gridwatch users``: add web users, issue API tokens, list users.

There are no default accounts and no default passwords. ``users add`` reads the
password from standard input when it is not a terminal (``printf '%s\\n' "$PW" |
gridwatch users add ana --role operator``), else asks twice without echo.
"""

from __future__ import annotations

import sys
from datetime import datetime

import click
from sqlalchemy import Engine, func, select

from aggregator.web.auth import MIN_PASSWORD_LENGTH, AuthError, Role, create_user, issue_token
from aggregator.web.models import ApiTokenRow, UserRow
from gridwatch.cli.common import db_option, print_table, settings_from


def _engine(ctx: click.Context, db_url: str | None) -> Engine:
    from gridwatch.db import open_db

    return open_db(settings_from(ctx).database_url(db_url))


def read_password() -> str:
    """One line from a pipe, or a prompt twice on a terminal."""
    if not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.ClickException("no password on standard input")
        return password
    typed: str = click.prompt(
        f"Password (at least {MIN_PASSWORD_LENGTH} characters)",
        hide_input=True,
        confirmation_prompt=True,
    )
    return typed


@click.group()
def users() -> None:
    """Web users (operator, engineer, admin) and their API tokens."""


@users.command()
@click.argument("name")
@click.option("--role", type=click.Choice([str(r) for r in Role]), required=True)
@db_option
@click.pass_context
def add(ctx: click.Context, name: str, role: str, db_url: str | None) -> None:
    """Create user NAME with ROLE; the password comes from stdin or a prompt."""
    from gridwatch.db import session_scope

    password = read_password()
    try:
        with session_scope(_engine(ctx, db_url)) as db:
            create_user(db, name, role, password)
    except AuthError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"user {name} added ({role})")


@users.command()
@click.argument("name")
@click.option("--label", default="", help="What the token is for, e.g. city-open311.")
@db_option
@click.pass_context
def token(ctx: click.Context, name: str, label: str, db_url: str | None) -> None:
    """Issue an API token for NAME (printed once; only its hash is stored)."""
    from gridwatch.db import session_scope

    with session_scope(_engine(ctx, db_url)) as db:
        user = db.scalar(select(UserRow).where(UserRow.username == name))
        if user is None:
            raise click.ClickException(f"no user {name!r}")
        secret = issue_token(db, user, label)
    click.echo(secret)
    click.echo("(shown once: send it as 'Authorization: Bearer <token>')", err=True)


@users.command("list")
@db_option
@click.pass_context
def list_(ctx: click.Context, db_url: str | None) -> None:
    """Users, their roles and how many API tokens each has."""
    from gridwatch.db import session_scope

    with session_scope(_engine(ctx, db_url)) as db:
        counts = dict(
            db.execute(
                select(ApiTokenRow.user_id, func.count()).group_by(ApiTokenRow.user_id)
            ).all()
        )
        rows = [
            [
                u.username,
                u.role,
                "yes" if u.active else "no",
                str(counts.get(u.id, 0)),
                datetime.fromtimestamp(u.created_at).isoformat(timespec="seconds"),
            ]
            for u in db.scalars(select(UserRow).order_by(UserRow.username))
        ]
    print_table(rows, ["user", "role", "active", "tokens", "created"])
