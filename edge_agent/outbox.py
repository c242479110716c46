"""The durable outbox of an edge agent: every event is stored here before it is sent.

One SQLite file per node (WAL; ``synchronous=FULL`` by default so a put survives a
power cut, ``sync="normal"`` when process crashes are the only worry: ~8x faster puts).
An event stays until the aggregator's ACK names it (committed or rejected for good);
then its row is deleted. ``sent_at`` remembers when it was last sent so the publisher
resends only what has waited longer than ``resend_after_s``; on open every row is
marked unsent, because nothing in flight before a restart can be trusted to arrive.

**Bounded.** While the aggregator is away the outbox grows; ``max_bytes`` (config
``edge.delivery.outbox_max_bytes``) bounds what it holds (payloads + evidence blobs).
Above ``drop_clips_at`` × the limit it drops clips (``*.mp4``), oldest events first;
above ``drop_images_at`` × the limit images as well; an event row is never dropped.
A dropped blob leaves its event's ``evidence`` list, so the event stays valid on the
wire. What was dropped is counted per camera (table ``outbox_drops``, so the counts
survive restarts) and reported in every heartbeat (:meth:`Outbox.usage`). SQLite reuses
the pages freed, so the file stays near the high-water mark of what it held.

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

import json
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from edge_agent.config import DeliveryConfig
from gridwatch.protocol import EvidenceDropped, OutboxStatus

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
CREATE TABLE IF NOT EXISTS outbox_drops (
    camera_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (camera_id, kind)
);
"""
CLIP, IMAGE = "clip", "image"
_CAMERA_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")  # as protocol.CameraId
# Cameras listed with their drops in a heartbeat, most drops first (~50 bytes each: the
# envelope is at most 256 KB); the node's totals always count every camera.
MAX_CAMERAS_REPORTED = 500
DROP_CHUNK = 64  # blobs looked at per query while making room
OVER_LIMIT_LOG_S = 60.0
log = logging.getLogger(__name__)


def blob_kind(name: str) -> str:
    """``clip`` for video evidence (``*.mp4``), ``image`` for everything else."""
    return CLIP if name.lower().endswith(".mp4") else IMAGE


@dataclass(frozen=True)
class OutboxUsage:
    """What the outbox holds against its limit, and what it dropped (per camera)."""

    events: int
    bytes: int
    max_bytes: int
    dropped: dict[str, dict[str, int]]  # camera id -> {"clip": n, "image": n}

    def dropped_total(self, kind: str) -> int:
        return sum(d.get(kind, 0) for d in self.dropped.values())

    def to_status(self) -> OutboxStatus:
        """The heartbeat's ``outbox`` field (cameras with drops only)."""

        def counts(kinds: dict[str, int]) -> EvidenceDropped:
            return EvidenceDropped(clips=kinds.get(CLIP, 0), images=kinds.get(IMAGE, 0))

        most = sorted(self.dropped.items(), key=lambda item: (-sum(item[1].values()), item[0]))
        by_camera = {c: counts(k) for c, k in most if _CAMERA_ID.match(c)}
        return OutboxStatus(
            events=self.events,
            bytes=self.bytes,
            max_bytes=self.max_bytes,
            dropped=EvidenceDropped(
                clips=self.dropped_total(CLIP), images=self.dropped_total(IMAGE)
            ),
            dropped_by_camera=dict(list(by_camera.items())[:MAX_CAMERAS_REPORTED]),
        )


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

    def __init__(
        self,
        path: Path | str,
        *,
        sync: Literal["full", "normal"] = "full",
        max_bytes: int | None = None,
        drop_clips_at: float = 0.8,
        drop_images_at: float = 0.95,
    ) -> None:
        self.path = str(path)
        self.max_bytes = max_bytes
        self.drop_clips_at = drop_clips_at
        self.drop_images_at = max(drop_images_at, drop_clips_at)
        self._next_over_log = 0.0
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
            self._add_bytes_column()
            # Nothing sent before this open is known to have arrived: resend it all.
            self._db.execute("UPDATE outbox SET sent_at = NULL WHERE sent_at IS NOT NULL")
            self._bytes = int(
                self._db.execute("SELECT coalesce(sum(bytes), 0) FROM outbox").fetchone()[0]
            )

    def _add_bytes_column(self) -> None:
        """``outbox.bytes`` (payload + blobs) came with the limit: add it to older files."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(outbox)")}
        if "bytes" in columns:
            return
        self._db.execute("ALTER TABLE outbox ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0")
        self._db.execute(
            "UPDATE outbox SET bytes = length(payload) + coalesce((SELECT sum(length(data))"
            " FROM outbox_blobs b WHERE b.event_id = outbox.event_id), 0)"
        )

    @classmethod
    def for_node(cls, config: DeliveryConfig, data_dir: Path, node_id: str) -> Outbox:
        """The node's outbox: ``config.outbox``, else ``data_dir/outbox-<node>.db``."""
        path = config.outbox or data_dir / f"outbox-{node_id}.db"
        return cls(
            path,
            sync=config.outbox_sync,
            max_bytes=config.outbox_max_bytes,
            drop_clips_at=config.outbox_drop_clips_at,
            drop_images_at=config.outbox_drop_images_at,
        )

    def put(self, event_id: str, payload: str, blobs: dict[str, bytes] | None = None) -> None:
        """Store one event durably; storing the same ``event_id`` again is a no-op.

        Over the limit's thresholds it first makes room by dropping evidence of the
        oldest events (this one's included, last), never an event.
        """
        blobs = blobs or {}
        size = len(payload) + sum(len(d) for d in blobs.values())
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                cur = self._db.execute(
                    "INSERT OR IGNORE INTO outbox (event_id, payload, created_at, bytes)"
                    " VALUES (?,?,?,?)",
                    (event_id, payload, time.time(), size),
                )
                added = cur.rowcount > 0
                if added:
                    self._db.executemany(
                        "INSERT INTO outbox_blobs (event_id, idx, name, data) VALUES (?,?,?,?)",
                        [(event_id, i, n, d) for i, (n, d) in enumerate(blobs.items())],
                    )
                freed = self._make_room(self._bytes + size * added)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._bytes += size * added - freed

    # -- the limit ---------------------------------------------------------------------

    def _level(self, share: float) -> int | None:
        return None if self.max_bytes is None else int(self.max_bytes * share)

    def _make_room(self, held: int) -> int:
        """Drop clips, then images, oldest first, down to their thresholds (in the open
        transaction); returns the bytes freed."""
        freed = 0
        for kind, share in ((CLIP, self.drop_clips_at), (IMAGE, self.drop_images_at)):
            level = self._level(share)
            if level is not None and held - freed > level:
                freed += self._drop(kind, held - freed - level)
        limit = self._level(1.0)
        if limit is not None and held - freed > limit and time.monotonic() >= self._next_over_log:
            self._next_over_log = time.monotonic() + OVER_LIMIT_LOG_S
            log.warning(
                "OUTBOX OVER ITS LIMIT: %d bytes held, limit %d, no evidence left to drop "
                "(events are never dropped): is the aggregator reachable?",
                held - freed,
                limit,
            )
        return freed

    def _drop(self, kind: str, wanted: int) -> int:
        """Drop blobs of ``kind`` from the oldest events until ``wanted`` bytes are freed."""
        freed = 0
        is_clip = "lower(b.name) LIKE '%.mp4'"
        where = is_clip if kind == CLIP else f"NOT {is_clip}"
        while freed < wanted:
            rows = self._db.execute(
                "SELECT b.event_id, b.idx, b.name, length(b.data)"
                " FROM outbox_blobs b JOIN outbox o ON o.event_id = b.event_id"
                f" WHERE {where} ORDER BY o.seq, b.idx LIMIT ?",
                (DROP_CHUNK,),
            ).fetchall()
            if not rows:
                break
            for event_id, idx, name, size in rows:
                freed += self._drop_blob(event_id, idx, name, size, kind)
                if freed >= wanted:
                    break
        return freed

    def _drop_blob(self, event_id: str, idx: int, name: str, size: int, kind: str) -> int:
        """Drop one blob; returns the bytes freed (the blob, and its name in the payload)."""
        self._db.execute("DELETE FROM outbox_blobs WHERE event_id = ? AND idx = ?", (event_id, idx))
        # The payload names its evidence: a dropped blob must leave that list (read it
        # afresh: an earlier drop in this transaction may have changed it).
        camera = ""
        old = payload = self._db.execute(
            "SELECT payload FROM outbox WHERE event_id = ?", (event_id,)
        ).fetchone()[0]
        try:
            doc = json.loads(payload)
            camera = str(doc.get("camera_id", ""))
            if isinstance(doc.get("evidence"), list):
                doc["evidence"] = [n for n in doc["evidence"] if n != name]
                payload = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
        except (ValueError, AttributeError):
            pass  # not an event payload (tests): the blob goes all the same
        freed = size + len(old) - len(payload)
        self._db.execute(
            "UPDATE outbox SET payload = ?, bytes = bytes - ? WHERE event_id = ?",
            (payload, freed, event_id),
        )
        self._db.execute(
            "INSERT INTO outbox_drops (camera_id, kind, count) VALUES (?, ?, 1)"
            " ON CONFLICT (camera_id, kind) DO UPDATE SET count = count + 1",
            (camera, kind),
        )
        return freed

    def usage(self) -> OutboxUsage:
        """Events and bytes held, the limit, and the evidence dropped per camera so far."""
        dropped: dict[str, dict[str, int]] = {}
        with self._lock:
            events = int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])
            for camera, kind, n in self._db.execute(
                "SELECT camera_id, kind, count FROM outbox_drops"
            ):
                dropped.setdefault(camera, {})[kind] = int(n)
            held = self._bytes
        return OutboxUsage(events, held, self.max_bytes or 0, dropped)

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
            freed = 0
            for i in range(0, len(ids), 500):
                chunk = [eid for (eid,) in ids[i : i + 500]]
                marks = ",".join("?" * len(chunk))
                row = self._db.execute(
                    f"SELECT coalesce(sum(bytes), 0) FROM outbox WHERE event_id IN ({marks})", chunk
                ).fetchone()
                freed += int(row[0])
            cur = self._db.executemany("DELETE FROM outbox WHERE event_id = ?", ids)
            removed = cur.rowcount
            self._db.execute("COMMIT")
            self._bytes -= freed
        return removed

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
