"""The durable outbox of an edge agent: every event is stored here before it is sent.

One SQLite file per node (WAL; ``synchronous=FULL`` by default so a put survives a
power cut, ``sync="normal"`` when process crashes are the only worry: ~8x faster puts).
An event stays until the aggregator's ACK names it (committed or rejected for good);
then its row is deleted. ``sent_at`` remembers when it was last sent so the publisher
resends only what has waited longer than ``resend_after_s``; on open every row is
marked unsent, because nothing in flight before a restart can be trusted to arrive.

>>> box = Outbox(":memory:")
>>> payload = '{"event_id": "..."}'
>>> box.put("a" * 32, payload, {"snapshot.jpg": b"\\xff\\xd8"})
>>> [item.event_id for item in box.due(now=0.0, resend_after_s=5, limit=10)]
['aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa']
>>> box.remove(["a" * 32])
1
>>> box.count()
0
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from edge_agent.config import DeliveryConfig

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    payload TEXT NOT NULL,
    created_at REAL NOT NULL,
    sent_at REAL,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS ix_outbox_sent_at ON outbox (sent_at);
CREATE TABLE IF NOT EXISTS outbox_blobs (
    event_id TEXT NOT NULL REFERENCES outbox (event_id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    name TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (event_id, idx)
);
"""


@dataclass(frozen=True)
class OutboxItem:
    """One stored event: its JSON payload (as given to :meth:`Outbox.put`) and blobs."""

    event_id: str
    payload: str
    blobs: dict[str, bytes]
    attempts: int


class Outbox:
    """A thread-safe SQLite outbox (ingest threads put; the publisher thread reads).

    The connection is shared behind a lock: SQLite serialises writers anyway, and puts
    are small, so a lock is simpler and faster than a connection per thread.
    """

    def __init__(self, path: Path | str, *, sync: Literal["full", "normal"] = "full") -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={sync.upper()}")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA busy_timeout=30000")
        with self._lock:
            self._db.executescript(_SCHEMA)
            # Nothing sent before this open is known to have arrived: resend it all.
            self._db.execute("UPDATE outbox SET sent_at = NULL WHERE sent_at IS NOT NULL")

    @classmethod
    def for_node(cls, config: DeliveryConfig, data_dir: Path, node_id: str) -> Outbox:
        """The node's outbox: ``config.outbox``, else ``data_dir/outbox-<node>.db``."""
        path = config.outbox or data_dir / f"outbox-{node_id}.db"
        return cls(path, sync=config.outbox_sync)

    def put(self, event_id: str, payload: str, blobs: dict[str, bytes] | None = None) -> None:
        """Store one event durably; storing the same ``event_id`` again is a no-op."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                cur = self._db.execute(
                    "INSERT OR IGNORE INTO outbox (event_id, payload, created_at) VALUES (?,?,?)",
                    (event_id, payload, time.time()),
                )
                if cur.rowcount:
                    self._db.executemany(
                        "INSERT INTO outbox_blobs (event_id, idx, name, data) VALUES (?,?,?,?)",
                        [(event_id, i, n, d) for i, (n, d) in enumerate((blobs or {}).items())],
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def due(self, *, now: float, resend_after_s: float, limit: int) -> list[OutboxItem]:
        """Up to ``limit`` events never sent, or sent before ``now - resend_after_s``."""
        if limit <= 0:
            return []
        with self._lock:
            rows = self._db.execute(
                "SELECT event_id, payload, attempts FROM outbox"
                " WHERE sent_at IS NULL OR sent_at < ? ORDER BY seq LIMIT ?",
                (now - resend_after_s, limit),
            ).fetchall()
            blobs: dict[str, dict[str, bytes]] = {r[0]: {} for r in rows}
            if rows:
                marks = ",".join("?" * len(rows))
                for event_id, name, data in self._db.execute(
                    "SELECT event_id, name, data FROM outbox_blobs"
                    f" WHERE event_id IN ({marks}) ORDER BY event_id, idx",
                    [r[0] for r in rows],
                ):
                    blobs[event_id][name] = data
        return [OutboxItem(eid, payload, blobs[eid], attempts) for eid, payload, attempts in rows]

    def mark_sent(self, event_ids: Sequence[str], now: float) -> None:
        """Remember that these events went out at ``now`` (they are in flight)."""
        if not event_ids:
            return
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany(
                "UPDATE outbox SET sent_at = ?, attempts = attempts + 1 WHERE event_id = ?",
                [(now, eid) for eid in event_ids],
            )
            self._db.execute("COMMIT")

    def in_flight(self, *, now: float, resend_after_s: float) -> int:
        """Events sent within the last ``resend_after_s`` and not acked yet."""
        with self._lock:
            row = self._db.execute(
                "SELECT count(*) FROM outbox WHERE sent_at >= ?", (now - resend_after_s,)
            ).fetchone()
        return int(row[0])

    def remove(self, event_ids: Iterable[str]) -> int:
        """Delete acked (or rejected-for-good) events; returns how many were here."""
        ids = [(eid,) for eid in event_ids]
        if not ids:
            return 0
        with self._lock:
            self._db.execute("BEGIN")
            cur = self._db.executemany("DELETE FROM outbox WHERE event_id = ?", ids)
            removed = cur.rowcount
            self._db.execute("COMMIT")
        return removed

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
