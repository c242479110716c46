"""Retention: old evidence and old sightings go, by rules, and never what an open case needs.

A city runs for years: about 150 KB of evidence an event and a row per sighting would
grow without end. The rules (``aggregator.retention``, days):

=============================  =====================================================
what                           deleted when
=============================  =====================================================
an event's clip                the event is older than ``clip_days`` (30)
an event's images and clip     its case was closed or rejected ``closed_case_days``
                               (30) ago
images of an event of no case  the event is older than ``caseless_days`` (30)
an event row (a sighting)      older than ``sighting_days`` (90): first counted per
                               case, camera, code, phase and hour into
                               ``sighting_counts``, then deleted with its files
=============================  =====================================================

**Protected**: every event of a case that is not closed or rejected (pending review,
registered, dispatched, handled, verified), or that was closed/rejected less than
``closed_case_days`` ago, keeps its row and all its evidence, whatever its age. A case
reopened after its evidence went has its case row, timeline and hourly counts, not the
pictures.

How: four passes over the index ``ix_events_retention (evidence_level, t_event)``
(``evidence_level``: 2 a clip is kept, 1 images only, 0 nothing), each a keyset walk in
batches of ``batch`` events, so a run reads what it deletes plus the protected events
past a cutoff, never the whole table. Per batch the files go first, then one short
transaction updates or deletes the rows (a crash in between leaves rows naming files
that are gone, which the next run settles; never files no row names). A dry run walks
the same way and deletes nothing.

>>> retention = Retention(engine, Path("evidence"), RetentionConfig())  # doctest: +SKIP
>>> report = retention.run(dry_run=True)  # doctest: +SKIP
>>> report.clips.count, report.clips.bytes  # doctest: +SKIP
(1234, 181234567)
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from aggregator.config import RetentionConfig
from aggregator.models import CASES, EVENTS, SIGHTING_COUNTS
from aggregator.workflow import CaseState

log = logging.getLogger(__name__)

DAY = 86_400.0
HOUR = 3600.0
SETTLED = (str(CaseState.CLOSED), str(CaseState.REJECTED))
CLIP_SUFFIX = ".mp4"


@dataclass
class Tally:
    """How many, how many bytes, and the oldest and newest event time among them."""

    count: int = 0
    bytes: int = 0
    files: int = 0
    oldest: float | None = None
    newest: float | None = None

    def add(self, t: float, nbytes: int, files: int = 0) -> None:
        self.count += 1
        self.bytes += nbytes
        self.files += files
        self.oldest = t if self.oldest is None else min(self.oldest, t)
        self.newest = t if self.newest is None else max(self.newest, t)


@dataclass
class RetentionReport:
    """What one run deleted (or, dry, would delete) and what it kept for open cases."""

    dry_run: bool
    started_at: float
    cutoffs: dict[str, float]
    clips: Tally = field(default_factory=Tally)
    images: Tally = field(default_factory=Tally)  # events whose images (and clip) went
    rows: Tally = field(default_factory=Tally)  # event rows counted and deleted
    count_rows: int = 0  # distinct (case, camera, code, phase, hour) rows added to or updated
    kept: Tally = field(default_factory=Tally)  # past a cutoff, kept: their case needs them
    seconds: float = 0.0
    # What this run took already (a dry run changes nothing, so later passes see the
    # same rows again): event id -> files, and the rows.
    _gone: dict[str, set[str]] = field(default_factory=dict, repr=False)
    _rows_gone: set[str] = field(default_factory=set, repr=False)
    _kept_ids: set[str] = field(default_factory=set, repr=False)
    _count_keys: set[tuple[Any, ...]] = field(default_factory=set, repr=False)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for private in ("_gone", "_rows_gone", "_kept_ids", "_count_keys"):
            out.pop(private)
        return out

    def keep(self, ev: _Event) -> None:
        if ev.event_id not in self._kept_ids:
            self._kept_ids.add(ev.event_id)
            self.kept.add(ev.t_event, ev.clip_bytes + ev.image_bytes, len(ev.evidence))


@dataclass(frozen=True)
class _Event:
    event_id: str
    case_id: int | None
    camera_id: str
    event_code: str
    phase: str
    t_event: float
    confidence: float
    evidence: list[str]
    clip_bytes: int
    image_bytes: int


@dataclass
class _Batch:
    """What one batch changes: per event its kept files, and the rows to delete."""

    updates: list[dict[str, Any]] = field(default_factory=list)
    deleted: list[_Event] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


class Retention:
    """Applies :class:`RetentionConfig` to one database and evidence folder."""

    def __init__(
        self,
        engine: Engine,
        evidence_dir: Path,
        config: RetentionConfig,
        *,
        on_batch: Callable[[RetentionReport], None] | None = None,
    ) -> None:
        self.engine = engine
        self.evidence_dir = evidence_dir
        self.config = config
        self._on_batch = on_batch

    # ------------------------------------------------------------------ the run

    def cutoffs(self, now: float) -> dict[str, float]:
        c = self.config
        return {
            "clips_before": now - c.clip_days * DAY,
            "cases_settled_before": now - c.closed_case_days * DAY,
            "caseless_before": now - c.caseless_days * DAY,
            "rows_before": now - c.sighting_days * DAY,
        }

    def run(self, *, dry_run: bool = False, now: float | None = None) -> RetentionReport:
        """One pass of every rule; returns the report (nothing changes when ``dry_run``)."""
        now = time.time() if now is None else now
        cut = self.cutoffs(now)
        report = RetentionReport(dry_run, now, cut)
        started = time.perf_counter()
        e = EVENTS.c
        # 1. clips past clip_days
        self._walk(report, 2, cut["clips_before"], None, self._clip_rule)
        # 2. everything of settled cases past closed_case_days (events precede settling)
        for level in (2, 1):
            self._walk(
                report, level, cut["cases_settled_before"], e.case_id.is_not(None), self._case_rule
            )
        # 3. images of events of no case past caseless_days
        for level in (2, 1):
            self._walk(report, level, cut["caseless_before"], e.case_id.is_(None), self._case_rule)
        # 4. rows past sighting_days: counted per hour, then deleted with what is left
        for level in (2, 1, 0):
            self._walk(report, level, cut["rows_before"], None, self._row_rule)
        report.seconds = time.perf_counter() - started
        return report

    # ------------------------------------------------------------------ rules
    # Each rule decides for one unprotected event: (files to delete, delete the row).

    @staticmethod
    def _clip_rule(ev: _Event) -> tuple[list[str], bool]:
        return [p for p in ev.evidence if p.lower().endswith(CLIP_SUFFIX)], False

    @staticmethod
    def _case_rule(ev: _Event) -> tuple[list[str], bool]:
        return list(ev.evidence), False

    @staticmethod
    def _row_rule(ev: _Event) -> tuple[list[str], bool]:
        return list(ev.evidence), True

    # ------------------------------------------------------------------ walking

    def _walk(
        self,
        report: RetentionReport,
        level: int,
        before: float,
        extra: Any,
        rule: Callable[[_Event], tuple[list[str], bool]],
    ) -> None:
        for events in self._batches(level, before, extra):
            with self.engine.connect() as conn:
                settled = self._settled(conn, events, report.cutoffs["cases_settled_before"])
            batch = _Batch()
            for ev in events:
                if ev.case_id is not None and ev.case_id not in settled:
                    report.keep(ev)
                    continue
                files, drop_row = rule(ev)
                self._plan(report, batch, ev, files, drop_row)
            if not report.dry_run:
                self._apply(report, batch)
            if self._on_batch is not None:
                self._on_batch(report)

    def _batches(self, level: int, before: float, extra: Any) -> Iterator[list[_Event]]:
        """Events at ``level`` older than ``before`` in (t_event, event_id) order, a batch
        at a time; a keyset walk, so rows the previous batch changed are not seen again."""
        e = EVENTS.c
        cols = (
            e.event_id,
            e.case_id,
            e.camera_id,
            e.event_code,
            e.phase,
            e.t_event,
            e.confidence,
            e.evidence,
            e.clip_bytes,
            e.image_bytes,
        )
        last: tuple[float, str] | None = None
        while True:
            where = [e.evidence_level == level, e.t_event < before]
            if extra is not None:
                where.append(extra)
            if last is not None:
                where.append(
                    or_(e.t_event > last[0], and_(e.t_event == last[0], e.event_id > last[1]))
                )
            stmt = select(*cols).where(*where).order_by(e.t_event, e.event_id)
            with self.engine.connect() as conn:
                rows = conn.execute(stmt.limit(self.config.batch)).all()
            if not rows:
                return
            events = [
                _Event(
                    r.event_id,
                    r.case_id,
                    r.camera_id,
                    r.event_code,
                    r.phase,
                    r.t_event,
                    r.confidence,
                    [str(p) for p in (r.evidence or [])],
                    int(r.clip_bytes or 0),
                    int(r.image_bytes or 0),
                )
                for r in rows
            ]
            yield events
            last = (rows[-1].t_event, rows[-1].event_id)
            if len(rows) < self.config.batch:
                return

    @staticmethod
    def _settled(conn: Connection, events: Sequence[_Event], before: float) -> set[int]:
        """The batch's cases that were closed or rejected before ``before`` (unprotected)."""
        ids = sorted({ev.case_id for ev in events if ev.case_id is not None})
        if not ids:
            return set()
        c = CASES.c
        stmt = select(c.id).where(
            c.id.in_(ids), c.state.in_(SETTLED), c.closed_at.is_not(None), c.closed_at < before
        )
        found = set(conn.execute(stmt).scalars())
        # a case id no case row has (should not happen): nothing protects its events
        known = set(conn.execute(select(c.id).where(c.id.in_(ids))).scalars())
        return found | (set(ids) - known)

    # ------------------------------------------------------------------ changes

    def _size(self, relative: str) -> int:
        with contextlib.suppress(OSError):
            return self._path(relative).stat().st_size
        return 0

    def _path(self, relative: str) -> Path:
        base = self.evidence_dir.resolve()
        target = (base / relative).resolve()
        if not target.is_relative_to(base):
            raise ValueError(f"evidence path {relative!r} leaves the evidence folder")
        return target

    def _plan(
        self, report: RetentionReport, batch: _Batch, ev: _Event, files: list[str], drop_row: bool
    ) -> None:
        gone = report._gone.setdefault(ev.event_id, set())
        if ev.event_id in report._rows_gone:
            return  # a dry run saw this row go in an earlier pass
        files = [p for p in files if p not in gone]
        gone.update(files)
        clips = [p for p in files if p.lower().endswith(CLIP_SUFFIX)]
        images = [p for p in files if p not in clips]
        # sizes from the row; rows stored before these columns existed: from the files
        clip_bytes = (ev.clip_bytes or sum(map(self._size, clips))) if clips else 0
        image_bytes = (ev.image_bytes or sum(map(self._size, images))) if images else 0
        if clips:
            report.clips.add(ev.t_event, clip_bytes, len(clips))
        if images:
            report.images.add(ev.t_event, image_bytes, len(images))
        batch.files += files
        if drop_row:
            report.rows.add(ev.t_event, 0)
            report._rows_gone.add(ev.event_id)
            report._count_keys.add(count_key(ev))
            report.count_rows = len(report._count_keys)
            batch.deleted.append(ev)
            return
        kept = [p for p in ev.evidence if p not in gone]
        has_clip = any(p.lower().endswith(CLIP_SUFFIX) for p in kept)
        has_images = any(not p.lower().endswith(CLIP_SUFFIX) for p in kept)
        batch.updates.append(
            {
                "b_event_id": ev.event_id,
                "evidence": kept,
                "clip_bytes": ev.clip_bytes if has_clip else 0,
                "image_bytes": ev.image_bytes if has_images else 0,
                "evidence_files": len(kept),
                "evidence_level": 2 if has_clip else 1 if kept else 0,
            }
        )

    def _apply(self, report: RetentionReport, batch: _Batch) -> None:
        """Files first, then the rows in one transaction."""
        for relative in batch.files:
            try:
                path = self._path(relative)
            except ValueError as exc:
                log.warning("retention: %s; left alone", exc)
                continue
            path.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                path.parent.rmdir()  # the event's folder, once empty
        with self.engine.begin() as conn:
            if batch.updates:
                stmt = update(EVENTS).where(EVENTS.c.event_id == bindparam("b_event_id"))
                conn.execute(
                    stmt.values({k: bindparam(k) for k in batch.updates[0] if k != "b_event_id"}),
                    batch.updates,
                )
            if batch.deleted:
                add_counts(conn, batch.deleted)
                ids = [ev.event_id for ev in batch.deleted]
                conn.execute(delete(EVENTS).where(EVENTS.c.event_id.in_(ids)))


def count_key(ev: _Event) -> tuple[int, str, str, str, float]:
    """The ``sighting_counts`` row an event is counted in: case, camera, code, phase, hour."""
    hour = math.floor(ev.t_event / HOUR) * HOUR
    return (ev.case_id or 0, ev.camera_id, ev.event_code, ev.phase, hour)


def add_counts(conn: Connection, events: Sequence[_Event]) -> int:
    """Add ``events`` to the hourly ``sighting_counts`` (an upsert); returns rows touched."""
    groups: dict[tuple[int, str, str, str, float], dict[str, Any]] = {}
    for ev in events:
        key = count_key(ev)
        hour = key[4]
        g = groups.get(key)
        if g is None:
            groups[key] = {
                "case_id": key[0],
                "camera_id": ev.camera_id,
                "event_code": ev.event_code,
                "phase": ev.phase,
                "hour": hour,
                "events": 1,
                "max_confidence": ev.confidence,
                "first_t": ev.t_event,
                "last_t": ev.t_event,
            }
        else:
            g["events"] += 1
            g["max_confidence"] = max(g["max_confidence"], ev.confidence)
            g["first_t"] = min(g["first_t"], ev.t_event)
            g["last_t"] = max(g["last_t"], ev.t_event)
    if not groups:
        return 0
    pg = conn.dialect.name == "postgresql"
    stmt = (postgresql if pg else sqlite).insert(SIGHTING_COUNTS)
    t, x = SIGHTING_COUNTS.c, stmt.excluded
    bigger = func.greatest if pg else func.max  # SQLite's max(a, b) is the scalar one
    smaller = func.least if pg else func.min
    stmt = stmt.on_conflict_do_update(
        index_elements=["case_id", "camera_id", "event_code", "phase", "hour"],
        set_={
            "events": t.events + x.events,
            "max_confidence": bigger(t.max_confidence, x.max_confidence),
            "first_t": smaller(t.first_t, x.first_t),
            "last_t": bigger(t.last_t, x.last_t),
        },
    )
    conn.execute(stmt, list(groups.values()))
    return len(groups)
