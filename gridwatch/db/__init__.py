"""Storage: SQLAlchemy 2 typed models, engine factory and Alembic migrations.

SQLite (WAL) is the embedded default; PostgreSQL is used by URL. One migration chain
covers every table, registry and cases alike, so one ``gridwatch db upgrade`` (run
automatically by :func:`open_db`) brings any database to the current schema.
"""

from gridwatch.db.engine import make_engine, open_db, session_scope
from gridwatch.db.models import Base, CameraRow, GridUnitRow

__all__ = ["Base", "CameraRow", "GridUnitRow", "make_engine", "open_db", "session_scope"]
