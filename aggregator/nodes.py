"""Edge nodes as their heartbeats describe them: the outbox's fill and what it dropped.

An edge agent's outbox is bounded (``edge.delivery.outbox_max_bytes``): near its bound it
drops clips, then images, never an event, and each heartbeat says how full it is and
what it dropped, per camera (``HeartbeatPayload.outbox``, optional: older agents send
none). :func:`record_node` keeps the node's figures in ``edge_nodes``; the per-camera
counts go to ``camera_status`` with the camera's health (aggregator/health.py), and the
camera page shows both.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from aggregator.models import EDGE_NODES
from gridwatch.protocol import HeartbeatPayload


def upsert(conn: Connection, table: Any, keys: list[str], rows: list[dict[str, Any]]) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE, on SQLite and PostgreSQL."""
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    updates = {c: stmt.excluded[c] for c in rows[0] if c not in keys}
    conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_=updates), rows)


def node_values(node_id: str, heartbeat: HeartbeatPayload, at: float) -> dict[str, Any]:
    """The ``edge_nodes`` row a heartbeat gives (outbox figures None when it has none)."""
    box = heartbeat.outbox
    return {
        "node_id": node_id,
        "last_heartbeat_at": at,
        "outbox_events": box.events if box else None,
        "outbox_bytes": box.bytes if box else None,
        "outbox_max_bytes": box.max_bytes if box else None,
        "dropped_clips": box.dropped.clips if box else 0,
        "dropped_images": box.dropped.images if box else 0,
    }


def record_node(engine: Engine, node_id: str, heartbeat: HeartbeatPayload, at: float) -> None:
    """Keep the node's latest outbox figures (one small upsert per heartbeat)."""
    with engine.begin() as conn:
        upsert(conn, EDGE_NODES, ["node_id"], [node_values(node_id, heartbeat, at)])


def node_row(conn: Connection, node_id: str) -> Any:
    """The node's row (None: never heard from since this table exists)."""
    return conn.execute(select(EDGE_NODES).where(EDGE_NODES.c.node_id == node_id)).first()
