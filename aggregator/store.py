"""The aggregator's store: events in, cases out, in one transaction per batch.

The receiver hands :meth:`EventStore.commit_events` a batch of decoded events and acks
what it returns. Per batch the store does a fixed number of queries, whatever its size:

1. look up unknown cameras in the registry (cached; a miss is queried once, then
   remembered for ``NEGATIVE_TTL_S``),
2. one SELECT for the event ids already stored (at-least-once delivery: a duplicate is
   committed again, i.e. acked, but inserted only once),
3. the active suppressions of the batch's cameras (aggregator/suppression.py): a START
   that repeats a rejected false positive opens and joins no case and is stored with
   ``suppressed_by``, like the END of its incident;
   the candidate cases, then matching in memory (aggregator/cases.py). On PostgreSQL:
   one SELECT for the cases of the batch's incidents, one for the open cases of its
   cameras. On SQLite the store remembers cases between batches
   (aggregator/case_cache.py) and only reads what other writers changed since the last
   batch (new case ids, new transitions) and the incidents it has not seen; the batch
   takes SQLite's write lock first (``BEGIN IMMEDIATE``) so nothing moves in between
   (reloading every candidate was most of a batch's cost with thousands of open cases),
4. evidence blobs to ``evidence_dir/YYYY/MM/DD/<event_id>/<name>`` (UTC date of the
   event) *before* the commit, so a committed event always has its files; their sizes
   go in the event row (``clip_bytes``, ``image_bytes``: what retention and the metrics
   count, aggregator/retention.py),
5. bulk INSERT of new cases (ids drawn first, see ``cases.insert_cases``), events and
   transitions, one bulk UPDATE of the changed cases (sightings touch only their own
   columns), one COMMIT. The inserts (and on SQLite the updates) go straight through the
   driver's executemany: a pipeline of one prepared statement on psycopg.

A failed batch (rolled back) makes the store forget its remembered cases: the next batch
loads them afresh. A batch refused for lack of space (the evidence volume or the
database is full) raises :class:`~aggregator.storage.StorageFull` after removing the
files it had written: the receiver does not ack it, and the agents resend it.

A unique-key race with another writer (two aggregators on one PostgreSQL) rolls the
batch back and retries it; the retry sees the other writer's rows as existing.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, and_, func, select
from sqlalchemy.exc import IntegrityError

from aggregator.case_cache import CaseCache
from aggregator.cases import (
    SIGHTING_COLUMNS,
    CameraPlace,
    CaseMatcher,
    insert_cases,
    insert_many,
    insert_transitions,
    update_cases,
)
from aggregator.config import AggregatorConfig
from aggregator.event_types import EventTypes
from aggregator.health import CameraHealth
from aggregator.models import CAMERA_STATUS, CASES, EVENTS, TRANSITIONS
from aggregator.nodes import record_node
from aggregator.storage import StorageFull, StorageHealth, is_disk_full
from aggregator.suppression import hold_back
from aggregator.workflow import OPEN_STATES, CaseRecord, CaseState
from gridwatch.db.models import CameraRow
from gridwatch.protocol import EventPayload, HeartbeatPayload

log = logging.getLogger(__name__)

CHUNK = 2000  # ids per IN (...) list: well under SQLite's and PostgreSQL's limits
NEGATIVE_TTL_S = 30.0
REFRESH_S = 300.0
_json_text = json.encoder.encode_basestring  # a JSON string, non-ASCII kept


def _box_text(cls: str, conf: float, xyxy: Sequence[float]) -> str:
    return f'{{"cls":{_json_text(cls)},"conf":{conf!r},"xyxy":[{",".join(map(repr, xyxy))}]}}'


KEEP_WINDOWS = 3  # the case cache keeps cases seen within this many matching windows
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")

# What a committed batch leaves for the case cache: new cases, incident -> case id, the
# last transition id (None: no transitions), the latest event time.
Committed = tuple[list[CaseRecord], dict[str, int], int | None, float]


@dataclass(frozen=True)
class IncomingEvent:
    """One decoded event as the receiver got it."""

    payload: EventPayload
    node_id: str
    blobs: dict[str, bytes]
    received_at: float


@dataclass
class CommitResult:
    """Event ids to ack (new and already stored) and those refused for good, with why."""

    committed: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


EVENT_COLUMNS = (
    "event_id",
    "incident_id",
    "phase",
    "case_id",
    "camera_id",
    "node_id",
    "rule_id",
    "event_code",
    "grid_code",
    "t_start",
    "t_event",
    "received_at",
    "confidence",
    "boxes",
    "zone_id",
    "model",
    "evidence",
    "clip_bytes",
    "image_bytes",
    "evidence_files",
    "evidence_level",
    "frame",
    "suppressed_by",
)


@dataclass(frozen=True)
class Written:
    """An event's evidence files as written: paths (relative) and bytes by kind."""

    paths: list[str] = field(default_factory=list)
    clip_bytes: int = 0
    image_bytes: int = 0

    @property
    def level(self) -> int:
        """2: a clip is kept, 1: images only, 0: nothing (the retention index's key)."""
        return 2 if self.clip_bytes else 1 if self.paths else 0


def _event_row(
    ev: IncomingEvent,
    place: CameraPlace,
    case_id: int | None,
    written: Written,
    suppressed_by: int | None = None,
) -> tuple[Any, ...]:
    """An ``events`` row in the order of ``EVENT_COLUMNS``, the boxes as JSON text.

    The text is what json.dumps(..., ensure_ascii=False, separators=(",", ":")) writes
    for the same list (floats are finite: the protocol checks them), built directly.
    """
    p = ev.payload
    boxes = "[" + ",".join(_box_text(b.cls, b.conf, b.xyxy) for b in p.boxes) + "]"
    return (
        p.event_id,
        p.incident_id,
        str(p.phase),
        case_id,
        p.camera_id,
        ev.node_id,
        p.rule_id,
        p.event_code,
        place.grid_code,
        p.t_start,
        p.t_event,
        ev.received_at,
        p.confidence,
        boxes,
        p.zone_id,
        p.model,
        written.paths,
        written.clip_bytes,
        written.image_bytes,
        len(written.paths),
        written.level,
        p.frame.model_dump_json() if p.frame is not None else None,
        suppressed_by,
    )


class CameraCache:
    """Registry lookups (camera → grid place), loaded whole and refreshed on miss."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.places: dict[str, CameraPlace] = {}
        self.missing: dict[str, float] = {}  # camera id -> when it was last not found
        self.loaded_at: float | None = None

    def _query(self, ids: Sequence[str] | None) -> list[CameraPlace]:
        c = cast(Table, CameraRow.__table__).c
        stmt = select(c.camera_id, c.grid_code, c.community_code, c.street_code, c.grid_path)
        if ids is not None:
            stmt = stmt.where(c.camera_id.in_(ids))
        with self.engine.connect() as conn:
            return [CameraPlace(*row) for row in conn.execute(stmt)]

    def refresh(self, now: float | None = None) -> None:
        """Reload every camera (a moved camera gets its new grid)."""
        self.places = {p.camera_id: p for p in self._query(None)}
        self.missing.clear()
        self.loaded_at = time.time() if now is None else now

    def get_many(self, ids: Iterable[str]) -> dict[str, CameraPlace]:
        """Places of the known cameras among ``ids``."""
        if self.loaded_at is None:
            self.refresh()
        now = time.time()
        wanted = set(ids)
        misses = [
            i
            for i in wanted
            if i not in self.places and now - self.missing.get(i, -NEGATIVE_TTL_S) >= NEGATIVE_TTL_S
        ]
        for chunk in _chunks(sorted(misses)):
            for place in self._query(chunk):
                self.places[place.camera_id] = place
        for i in misses:
            if i not in self.places:
                self.missing[i] = now
        return {i: self.places[i] for i in wanted if i in self.places}

    def known(self, camera_id: str) -> bool:
        return camera_id in self.get_many([camera_id])


class EventStore:
    """Idempotent, batched storage of events, case matching, camera health."""

    def __init__(
        self,
        engine: Engine,
        evidence_dir: Path,
        config: AggregatorConfig,
        event_types: EventTypes,
        storage: StorageHealth | None = None,
    ) -> None:
        self.engine = engine
        self.storage = storage
        self.evidence_dir = evidence_dir
        self.config = config
        self.types = event_types
        self.cameras = CameraCache(engine)
        # SQLite: one write lock, ids in commit order: cases are remembered between batches.
        self.cache = CaseCache() if engine.dialect.name == "sqlite" else None
        self.health = CameraHealth(engine, config.health, event_types, self.cameras.get_many)
        self._written: list[Path] = []  # evidence files of the batch being committed

    # ----------------------------------------------------------------- events

    def known_camera(self, camera_id: str) -> bool:
        """Is ``camera_id`` in the registry? (cached; misses are re-checked after 30 s)"""
        return self.cameras.known(camera_id)

    def commit_events(self, events: Sequence[IncomingEvent]) -> CommitResult:
        """Store a batch in one transaction; see the module docstring for the steps."""
        result = CommitResult()
        unique: dict[str, IncomingEvent] = {}
        for ev in events:
            unique.setdefault(ev.payload.event_id, ev)
        places = self.cameras.get_many({ev.payload.camera_id for ev in unique.values()})
        accepted: list[IncomingEvent] = []
        for event_id, ev in unique.items():
            if ev.payload.camera_id in places:
                accepted.append(ev)
                result.committed.append(event_id)
            else:
                result.rejected.append((event_id, "unknown_camera"))
        for attempt in range(3):
            self._written = []
            try:
                with self.engine.begin() as conn:
                    done = self._commit(conn, accepted, places)
                if done is not None and self.cache is not None:
                    self.cache.committed(*done)
                    self.cache.trim(KEEP_WINDOWS * self.config.cases.window_s)
                break
            except IntegrityError:
                self._forget()
                if attempt == 2:
                    raise
                log.warning("unique-key race while committing %d events; retrying", len(accepted))
            except StorageFull:
                self._forget()
                self._remove_written()
                raise
            except BaseException as exc:
                self._forget()
                reason = is_disk_full(exc)
                if reason is None:
                    raise
                self._remove_written()
                raise StorageFull("database", reason) from exc
        return result

    def _remove_written(self) -> None:
        """Remove the evidence files of a batch that was not committed (space, and no
        files without their event); the agents resend the batch and it is written again."""
        for path in self._written:
            path.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                path.parent.rmdir()  # the event's folder, if nothing else is in it
        self._written = []

    def _forget(self) -> None:
        # A failed batch changed cached cases in memory; its transaction was rolled back.
        if self.cache is not None:
            self.cache.clear()

    def _commit(
        self, conn: Connection, accepted: list[IncomingEvent], places: dict[str, CameraPlace]
    ) -> Committed | None:
        if self.cache is not None:
            # Hold the write lock from the first read: nobody moves a case between our
            # reading it and writing it, and ids grow in commit order (aggregator/case_cache.py).
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        existing = self._existing(conn, [ev.payload.event_id for ev in accepted])
        new = [ev for ev in accepted if ev.payload.event_id not in existing]
        if not new:
            return None
        new.sort(key=lambda ev: (ev.payload.t_event, ev.payload.event_id))
        now = max(ev.received_at for ev in new)
        held = hold_back(conn, [ev.payload for ev in new], now, self.config.suppression)
        matcher = self._matcher(conn, new)
        case_keys = [
            None
            if ev.payload.event_id in held
            else matcher.add(ev.payload, places[ev.payload.camera_id], ev.received_at)
            for ev in new
        ]
        evidence = [self._write_evidence(ev) for ev in new]
        fresh = [matcher.cases[k] for k in matcher.new_keys]
        insert_cases(conn, fresh)
        ids = {key: case.id for key, case in matcher.cases.items() if case.id is not None}
        rows = [
            _event_row(
                ev,
                places[ev.payload.camera_id],
                ids[k] if k else None,
                written,
                held.get(ev.payload.event_id),
            )
            for ev, k, written in zip(new, case_keys, evidence, strict=True)
        ]
        insert_many(conn, EVENTS, EVENT_COLUMNS, rows)
        moved = {t.case_key for t in matcher.transitions}
        touched = sorted(matcher.touched)
        update_cases(conn, [matcher.cases[k] for k in touched if k in moved])
        sighted = [matcher.cases[k] for k in touched if k not in moved]
        update_cases(conn, sighted, SIGHTING_COLUMNS)
        insert_transitions(conn, matcher.transitions, ids)
        if self.cache is None:
            return None
        last_transition = None
        if matcher.transitions:
            t = TRANSITIONS.c.id
            last_transition = conn.execute(select(func.max(t))).scalar_one()
        incidents = {
            ev.payload.incident_id: ids[k] for ev, k in zip(new, case_keys, strict=True) if k
        }
        return fresh, incidents, last_transition, new[-1].payload.t_event

    @staticmethod
    def _existing(conn: Connection, ids: list[str]) -> set[str]:
        found: set[str] = set()
        col = EVENTS.c.event_id
        sqlite = conn.dialect.name == "sqlite"
        for chunk in _chunks(ids):
            if sqlite:  # straight to the driver: compiling an expanding IN costs more
                sql = (
                    f"SELECT event_id FROM events WHERE event_id IN ({','.join('?' * len(chunk))})"
                )
                found.update(row[0] for row in conn.exec_driver_sql(sql, tuple(chunk)))
            else:
                found.update(conn.execute(select(col).where(col.in_(chunk))).scalars())
        return found

    def _matcher(self, conn: Connection, new: list[IncomingEvent]) -> CaseMatcher:
        """Load the candidate cases of a batch: its incidents' cases and open cases nearby."""
        since = min(ev.payload.t_event for ev in new) - self.config.cases.window_s
        incident_ids = sorted({ev.payload.incident_id for ev in new})
        if self.cache is not None:
            self.cache.sync(conn, since)
            spots = {(ev.payload.camera_id, ev.payload.event_code) for ev in new}
            candidates, by_incident = self.cache.candidates(conn, spots, incident_ids)
            return CaseMatcher(self.config.cases, self.types, candidates, by_incident)
        e = EVENTS.c
        incidents: dict[str, int] = {}
        for chunk in _chunks(incident_ids):
            stmt = (
                select(e.incident_id, func.min(e.case_id))
                .where(e.incident_id.in_(chunk), e.case_id.is_not(None))
                .group_by(e.incident_id)
            )
            incidents.update({inc: cid for inc, cid in conn.execute(stmt)})
        c = CASES.c
        cameras = sorted({ev.payload.camera_id for ev in new})
        cases: dict[int, CaseRecord] = {}
        open_states = [str(s) for s in OPEN_STATES]
        codes = sorted({ev.payload.event_code for ev in new})
        for chunk in _chunks(cameras):
            where = and_(
                c.camera_id.in_(chunk),
                c.event_code.in_(codes),
                c.state.in_(open_states),
                c.last_seen >= since,
            )
            for row in conn.execute(select(CASES).where(where)):
                cases[row.id] = CaseRecord.from_row(row)
        missing = sorted(set(incidents.values()) - set(cases))
        for i in range(0, len(missing), CHUNK):
            where = c.id.in_(missing[i : i + CHUNK])
            for row in conn.execute(select(CASES).where(where)):
                cases[row.id] = CaseRecord.from_row(row)
        keys = {cid: case.origin_key for cid, case in cases.items()}
        by_incident = {inc: keys[cid] for inc, cid in incidents.items() if cid in keys}
        return CaseMatcher(self.config.cases, self.types, cases.values(), by_incident)

    def _write_evidence(self, ev: IncomingEvent) -> Written:
        """Write an event's blobs; their paths relative to ``evidence_dir`` and sizes.

        Raises :class:`StorageFull` when the volume refuses a write (ENOSPC, EDQUOT).
        """
        if not ev.blobs:
            return Written()
        day = datetime.fromtimestamp(ev.payload.t_event, UTC).strftime("%Y/%m/%d")
        folder = Path(day) / ev.payload.event_id
        paths = []
        clip = image = 0
        tmp: Path | None = None
        try:
            (self.evidence_dir / folder).mkdir(parents=True, exist_ok=True)
            for name, data in ev.blobs.items():
                safe = _SAFE_NAME.sub("_", Path(name).name).lstrip(".") or "blob"
                rel = folder / safe
                tmp = self.evidence_dir / rel.with_name(f".{safe}.tmp")
                tmp.write_bytes(data)
                os.replace(tmp, self.evidence_dir / rel)
                tmp = None
                self._written.append(self.evidence_dir / rel)
                paths.append(rel.as_posix())
                if safe.lower().endswith(".mp4"):
                    clip += len(data)
                else:
                    image += len(data)
        except OSError as exc:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
            reason = is_disk_full(exc)
            if reason is None:
                raise
            raise StorageFull("evidence", reason) from exc
        return Written(paths, clip, image)

    # ----------------------------------------------------------------- health, upkeep

    def record_heartbeat(
        self, node_id: str, heartbeat: HeartbeatPayload, received_at: float
    ) -> None:
        """Keep each mentioned camera's status; a camera back online closes its maintenance case.

        The node's outbox figures (fill, bound, evidence dropped) go to ``edge_nodes``.
        """
        self.health.record(node_id, heartbeat, received_at)
        record_node(self.engine, node_id, heartbeat, received_at)
        if self.storage is not None:
            self.storage.recovered(by_commit=False)  # the database took a small write

    def periodic(self, now: float) -> None:
        """Upkeep: refresh the camera cache, open maintenance cases for silent cameras."""
        if self.cameras.loaded_at is None or now - self.cameras.loaded_at >= REFRESH_S:
            self.cameras.refresh(now)
        self.health.check(now)

    def gauges(self, now: float | None = None) -> dict[str, dict[str, float]]:
        """Counts for metrics: cases by state, cameras by state, overdue cases by stage."""
        now = time.time() if now is None else now
        c = CASES.c
        s = CAMERA_STATUS.c
        with self.engine.connect() as conn:
            cases: dict[str, int] = dict(
                conn.execute(select(c.state, func.count()).group_by(c.state)).all()
            )
            cams: dict[str, int] = dict(
                conn.execute(select(s.state, func.count()).group_by(s.state)).all()
            )
            handle = conn.execute(
                select(func.count()).where(c.state == CaseState.DISPATCHED, c.deadline < now)
            ).scalar_one()
            verify = conn.execute(
                select(func.count()).where(c.state == CaseState.HANDLED, c.verify_deadline < now)
            ).scalar_one()
        return {
            "cases_by_state": {str(st): float(cases.get(str(st), 0)) for st in CaseState},
            "cameras_by_state": {k: float(v) for k, v in cams.items()},
            "cases_overdue": {"handle": float(handle), "verify": float(verify)},
        }
