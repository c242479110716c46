"""Case matching: which case does a new event belong to?

An event joins a case when it is the same incident (its ``incident_id`` already belongs
to a case), or when the case is still open and matches it in

* what: the same event code,
* where: the same grid and the same camera, with boxes overlapping by at least
  ``CaseConfig.min_box_iou`` (IoU of the best pair; a side without boxes does not veto),
* when: ``t_event`` within ``CaseConfig.window_s`` of the case's sightings.

Otherwise a START event opens a new case (``pending_review``); an END event that matches
nothing is stored without a case. Among several candidates the most recently seen one
wins (ties: the smaller origin key), so matching is deterministic: replaying the same
events gives the same cases. The camera verifies and reopens cases here too:

* an END event for a ``handled`` case marks it ``verified`` (actor ``camera``);
* a START sighting of a ``handled`` case later than both its handling report and its
  deadline sends it back to the department (reopen → ``dispatched``).

:class:`CaseMatcher` works on one batch in memory; aggregator/store.py loads its
candidates with a few queries and writes its results in bulk.

>>> iou((0, 0, 0.5, 0.5), (0.25, 0.25, 0.75, 0.75))
0.14285714285714285
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, Connection, Table, bindparam, update

from aggregator.config import CaseConfig
from aggregator.event_types import EventTypes
from aggregator.models import CASES, TRANSITIONS
from aggregator.workflow import (
    CASE_FIELDS,
    OPEN_STATES,
    CaseRecord,
    CaseState,
    TransitionRecord,
    apply_transition,
    opened,
)
from gridwatch.protocol import EventPayload, EventPhase

CAMERA_ACTOR = "camera"
_TZ = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class CameraPlace:
    """Where a camera's events land: its grid and the grid's full path (from the registry)."""

    camera_id: str
    grid_code: str
    community_code: str
    street_code: str
    grid_path: str

    def place(self) -> tuple[str, str, str, str]:
        return (self.grid_code, self.community_code, self.street_code, self.grid_path)


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two ``xyxy`` boxes."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def boxes_overlap(
    a: Sequence[Sequence[float]], b: Sequence[Sequence[float]], threshold: float
) -> bool:
    """True when some pair overlaps by ``threshold`` or more, or when a side has no boxes."""
    if not a or not b:
        return True
    return any(iou(x, y) >= threshold for x in a for y in b)


def clock(t: float) -> str:
    """A Unix time as local ISO 8601 (Asia/Shanghai), for notes and views."""
    return datetime.fromtimestamp(t, _TZ).isoformat(timespec="seconds")


class CaseMatcher:
    """Assigns one batch of new events, in time order, to existing or new cases.

    ``cases`` are the candidates loaded from the database (open cases of the batch's
    cameras, and the cases of the batch's incidents); ``incidents`` maps an incident id
    to the origin key of its case. After :meth:`add` has seen every event, ``new_keys``
    lists the cases to insert, ``touched`` those to update, ``transitions`` the moves.
    """

    def __init__(
        self,
        config: CaseConfig,
        types: EventTypes,
        cases: Iterable[CaseRecord],
        incidents: dict[str, str],
    ) -> None:
        self.config = config
        self.types = types
        self.cases: dict[str, CaseRecord] = {}
        self.by_place: dict[tuple[str, str], list[str]] = {}
        for case in cases:
            self._index(case)
        self.incidents = dict(incidents)
        self.new_keys: list[str] = []
        self.touched: set[str] = set()
        self.transitions: list[TransitionRecord] = []

    def _index(self, case: CaseRecord) -> None:
        self.cases[case.origin_key] = case
        self.by_place.setdefault((case.camera_id, case.event_code), []).append(case.origin_key)

    def add(self, event: EventPayload, place: CameraPlace, at: float) -> str | None:
        """Place one event; returns its case's origin key (None: an END matching nothing).

        ``at`` is when the aggregator received it: the time of any transition it causes.
        """
        case = self.find(event, place)
        if event.phase is EventPhase.END:
            if case is None:
                return None
            self._end(case, event, at)
        elif case is None:
            case = self._open(event, place, at)
        else:
            self._sight(case, event, at)
        self.incidents[event.incident_id] = case.origin_key
        return case.origin_key

    def find(self, event: EventPayload, place: CameraPlace) -> CaseRecord | None:
        """The case ``event`` belongs to, or None."""
        key = self.incidents.get(event.incident_id)
        if key is not None and key in self.cases:
            return self.cases[key]
        window = self.config.window_s
        boxes = [b.xyxy for b in event.boxes]
        best: CaseRecord | None = None
        for key in self.by_place.get((event.camera_id, event.event_code), ()):
            case = self.cases[key]
            if (
                case.state not in OPEN_STATES
                or case.grid_code != place.grid_code
                or event.t_event > case.last_seen + window
                or event.t_event < case.first_seen - window
                or not boxes_overlap(boxes, case.last_boxes, self.config.min_box_iou)
            ):
                continue
            if best is None or (case.last_seen, best.origin_key) > (best.last_seen, key):
                best = case
        return best

    def _open(self, event: EventPayload, place: CameraPlace, at: float) -> CaseRecord:
        case = CaseRecord.new(
            event.event_id,
            kind="event",
            event_code=event.event_code,
            camera_id=event.camera_id,
            place=place.place(),
            at=at,
        )
        case.department = self.types.department(event.event_code)
        case.first_seen = min(event.t_start, event.t_event)
        case.last_seen = event.t_event
        case.sightings = 1
        case.max_confidence = event.confidence
        case.last_boxes = [list(b.xyxy) for b in event.boxes]
        self._index(case)
        self.new_keys.append(case.origin_key)
        note = f"opened by event {event.event_id} (rule {event.rule_id}, camera {event.camera_id})"
        self.transitions.append(opened(case, actor=CAMERA_ACTOR, note=note))
        return case

    def _sight(self, case: CaseRecord, event: EventPayload, at: float) -> None:
        if case.state == CaseState.HANDLED and event.t_event > max(
            case.deadline or 0.0, case.handled_at or 0.0
        ):
            note = (
                f"camera {event.camera_id} still sees it at {clock(event.t_event)}, after the "
                f"deadline; sent back to {self.types.department(case.event_code)}"
            )
            self.transitions.append(
                apply_transition(
                    case, CaseState.DISPATCHED, actor=CAMERA_ACTOR, at=at, types=self.types,
                    note=note,
                )
            )  # fmt: skip
        case.sightings += 1
        case.first_seen = min(case.first_seen, event.t_start, event.t_event)
        if event.t_event >= case.last_seen:
            case.last_seen = event.t_event
            case.last_boxes = [list(b.xyxy) for b in event.boxes]
        case.max_confidence = max(case.max_confidence, event.confidence)
        case.updated_at = max(case.updated_at, at)
        self._touch(case)

    def _end(self, case: CaseRecord, event: EventPayload, at: float) -> None:
        case.ended_at = max(case.ended_at or 0.0, event.t_event)
        case.updated_at = max(case.updated_at, at)
        if case.state == CaseState.HANDLED:
            note = f"camera {event.camera_id} saw it end at {clock(event.t_event)}"
            self.transitions.append(
                apply_transition(
                    case, CaseState.VERIFIED, actor=CAMERA_ACTOR, at=at, types=self.types,
                    note=note,
                )
            )  # fmt: skip
        self._touch(case)

    def _touch(self, case: CaseRecord) -> None:
        if case.id is not None:
            self.touched.add(case.origin_key)


# --------------------------------------------------------------------------- writing


def insert_cases(conn: Connection, cases: Sequence[CaseRecord]) -> None:
    """INSERT new cases in one executemany and set each record's ``id``.

    The ids are known before the bulk insert, so it needs no RETURNING (with RETURNING,
    SQLAlchemy sends one multi-VALUES statement per batch that psycopg parses afresh
    every time: nearly half of a PostgreSQL batch's time). On PostgreSQL they are drawn from
    the table's sequence, like a default insert. On SQLite the first case is inserted
    alone: that takes the write lock and gets max(id) + 1 (INTEGER PRIMARY KEY without
    AUTOINCREMENT), so the others take the ids that follow; nobody else can insert
    until the commit.
    """
    if not cases:
        return
    names = [n for n in CASE_FIELDS if n != "id"]
    get = attrgetter(*names)
    boxes, state = names.index("last_boxes"), names.index("state")
    rows = []
    for case in cases:
        row = list(get(case))
        row[boxes] = _dumps(row[boxes])
        row[state] = str(row[state])
        rows.append(row)
    if conn.dialect.name == "sqlite":
        sql = f"INSERT INTO cases ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        first = conn.exec_driver_sql(sql, tuple(rows[0])).lastrowid
        ids = list(range(first, first + len(cases)))
        rest = [(ids[i], *row) for i, row in enumerate(rows) if i]
        insert_many(conn, CASES, ("id", *names), rest)
    else:
        sql = "SELECT nextval(pg_get_serial_sequence('cases', 'id')) FROM generate_series(1, %s)"
        ids = [row[0] for row in conn.exec_driver_sql(sql, (len(cases),))]
        insert_many(conn, CASES, ("id", *names), [(i, *r) for i, r in zip(ids, rows, strict=True)])
    for case, case_id in zip(cases, ids, strict=True):
        case.id = case_id


SIGHTING_COLUMNS = (
    "first_seen",
    "last_seen",
    "sightings",
    "max_confidence",
    "last_boxes",
    "ended_at",
    "updated_at",
)


_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def insert_many(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Bulk INSERT of value tuples (in the order of ``columns``), JSON as text.

    Straight through the driver's executemany (2-3x faster on SQLite): SQLAlchemy's
    per-row parameter processing is most of the cost of a 500-row insert, and neither
    database needs type adaptation beyond JSON text. psycopg sends an executemany as one
    pipeline of a single short statement.
    """
    if not rows:
        return
    json_at = [i for i, n in enumerate(columns) if isinstance(table.c[n].type, JSON)]
    if json_at:
        params: Sequence[Sequence[Any]] = [_encode(row, json_at) for row in rows]
    else:
        params = [tuple(row) for row in rows]
    mark = "?" if conn.dialect.name == "sqlite" else "%s"
    marks = ", ".join([mark] * len(columns))
    conn.exec_driver_sql(
        f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})", params
    )


def _encode(row: Sequence[Any], json_at: list[int]) -> tuple[Any, ...]:
    out = list(row)
    for i in json_at:
        value = out[i]
        if value is None or isinstance(value, str):
            continue  # SQL NULL, or already JSON text
        out[i] = "[]" if value == [] else _dumps(value)  # most events have no evidence
    return tuple(out)


def update_cases(
    conn: Connection, cases: Sequence[CaseRecord], columns: Sequence[str] | None = None
) -> None:
    """UPDATE changed cases in one executemany, by id (only ``columns`` when given).

    Sightings change a handful of unindexed columns; writing only those keeps the hot
    path off the indexes of ``state``, ``grid_code`` and the like.
    """
    if not cases:
        return
    names = [n for n in (columns or CASE_FIELDS) if n not in ("id", "origin_key")]
    if conn.dialect.name == "sqlite":
        # As insert_many: straight through the driver, JSON and the state as text.
        get = attrgetter(*names, "id")
        boxes = names.index("last_boxes") if "last_boxes" in names else -1
        state = names.index("state") if "state" in names else -1
        params = []
        for case in cases:
            row = list(get(case))
            if boxes >= 0:
                row[boxes] = _dumps(row[boxes])
            if state >= 0:
                row[state] = str(row[state])
            params.append(tuple(row))
        sets = ", ".join(f"{n} = ?" for n in names)
        conn.exec_driver_sql(f"UPDATE cases SET {sets} WHERE id = ?", params)
        return
    rows = []
    for case in cases:
        values = case.values()
        rows.append({"b_id": case.id, **{n: values[n] for n in names}})
    binds: dict[str, Any] = {name: bindparam(name) for name in names}
    conn.execute(update(CASES).where(CASES.c.id == bindparam("b_id")).values(binds), rows)


TRANSITION_COLUMNS = (
    "case_id",
    "at",
    "actor",
    "action",
    "from_state",
    "to_state",
    "note",
    "reason",
)


def insert_transitions(
    conn: Connection, records: Sequence[TransitionRecord], ids: dict[str, int]
) -> None:
    """INSERT transition records; ``ids`` maps each case's origin key to its id."""
    rows = [
        (ids[r.case_key], r.at, r.actor, r.action, r.from_state, str(r.to_state), r.note, r.reason)
        for r in records
    ]
    insert_many(conn, TRANSITIONS, TRANSITION_COLUMNS, rows)
