"""Alembic environment: runs on the connection handed over by gridwatch.db.engine.upgrade."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

# Importing the model modules registers their tables on Base.metadata.
import aggregator.models
import aggregator.web.models  # noqa: F401
from gridwatch.db.models import Base

target_metadata = Base.metadata


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


conn = context.config.attributes.get("connection")
if conn is None:
    raise RuntimeError("run migrations with `gridwatch db upgrade`, which passes a connection")
run(conn)
