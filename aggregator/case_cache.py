"""The store's memory of recent cases between batches (SQLite), kept true with two cheap reads.

Loading every candidate case of every batch from the database is most of the cost of a
batch once a city has a few thousand open cases: each batch meets cases of most cameras.
:class:`CaseCache` keeps the cases it has seen as :class:`CaseRecord` objects and, at the
start of each batch (inside the batch's write transaction), catches up with the other
writers instead of reloading:

* cases opened by someone else (maintenance cases from aggregator/health.py): every row
  with an id above the highest one it knows,
* workflow moves by someone else (operators through workflow.transition_case, health
  closing a maintenance case): every case named by a ``case_transitions`` row with an id
  above the highest one it knows; those cases are read again whole. Every change of a
  case's state, deadlines or department is recorded as a transition (DOMAIN.md), and
  sightings are written only by the store, so these two reads see every change.

That needs ids that grow in commit order, which SQLite gives when the batch holds the
write lock from its first read (``BEGIN IMMEDIATE``, see aggregator/store.py). PostgreSQL
(possibly several aggregators, ids from sequences that may commit out of order) keeps
loading the candidates of each batch.

It knows every open case last seen at or after ``horizon``; a batch with older events
loads the older ones first. Incidents it has not seen are looked up in ``events``, and
cases last seen long ago are dropped (``trim``), so memory follows the live cases, not
the history.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, and_, func, select

from aggregator.models import CASES, EVENTS, TRANSITIONS
from aggregator.workflow import OPEN_STATES, CaseRecord

CHUNK = 2000  # ids per IN (...) list
_OPEN = [str(s) for s in OPEN_STATES]


class CaseCache:
    """Cases by id, by (camera, event code) and by incident, as of the last batch."""

    def __init__(self) -> None:
        self.cases: dict[int, CaseRecord] = {}
        self.by_place: dict[tuple[str, str], set[int]] = {}
        self.incidents: dict[str, int] = {}  # incident id -> case id
        self.case_id = 0  # highest case id seen
        self.transition_id = 0  # highest transition id seen
        self.horizon: float | None = None  # None: nothing loaded yet (cold)
        self.newest = 0.0  # latest t_event committed

    def clear(self) -> None:
        """Forget everything (after a failed batch: its changes in memory were rolled back)."""
        self.__init__()  # type: ignore[misc]

    # ------------------------------------------------------------------ reading

    def add(self, case: CaseRecord) -> None:
        if case.id is None:
            return
        old = self.cases.get(case.id)
        if old is not None and old is not case:
            self.by_place.get((old.camera_id, old.event_code), set()).discard(case.id)
        self.cases[case.id] = case
        self.by_place.setdefault((case.camera_id, case.event_code), set()).add(case.id)
        self.case_id = max(self.case_id, case.id)

    def _load(self, conn: Connection, where: Any) -> list[CaseRecord]:
        records = [CaseRecord.from_row(row) for row in conn.execute(select(CASES).where(where))]
        for case in records:
            self.add(case)
        return records

    def sync(self, conn: Connection, since: float) -> None:
        """Catch up with other writers; afterwards every open case seen since ``since`` is here.

        Call inside the batch's transaction, holding SQLite's write lock.
        """
        c = CASES.c
        if self.horizon is None:
            self.case_id = conn.execute(select(func.coalesce(func.max(c.id), 0))).scalar_one()
            t = TRANSITIONS.c
            self.transition_id = conn.execute(select(func.coalesce(func.max(t.id), 0))).scalar_one()
            self._load(conn, and_(c.state.in_(_OPEN), c.last_seen >= since))
            self.horizon = since
            return
        self._load(conn, c.id > self.case_id)
        t = TRANSITIONS.c
        moved: set[int] = set()
        for tid, case_id in conn.execute(select(t.id, t.case_id).where(t.id > self.transition_id)):
            self.transition_id = max(self.transition_id, tid)
            moved.add(case_id)
        for chunk in _chunks(sorted(moved)):
            self._load(conn, c.id.in_(chunk))
        if since < self.horizon:
            window = and_(c.state.in_(_OPEN), c.last_seen >= since, c.last_seen < self.horizon)
            self._load(conn, window)
            self.horizon = since

    def candidates(
        self, conn: Connection, places: Iterable[tuple[str, str]], incidents: Sequence[str]
    ) -> tuple[list[CaseRecord], dict[str, str]]:
        """The cases a batch may join, and its known incidents' cases (by origin key)."""
        unknown = [i for i in incidents if i not in self.incidents]
        e = EVENTS.c
        for chunk in _chunks(unknown):
            stmt = (
                select(e.incident_id, func.min(e.case_id))
                .where(e.incident_id.in_(chunk), e.case_id.is_not(None))
                .group_by(e.incident_id)
            )
            self.incidents.update({inc: cid for inc, cid in conn.execute(stmt)})
        ids: set[int] = set()
        for place in places:
            ids.update(self.by_place.get(place, ()))
        linked = {inc: self.incidents[inc] for inc in incidents if inc in self.incidents}
        missing = sorted(set(linked.values()) - set(self.cases))
        for chunk in _chunks(missing):
            self._load(conn, CASES.c.id.in_(chunk))
        ids.update(cid for cid in linked.values() if cid in self.cases)
        by_incident = {
            inc: self.cases[cid].origin_key for inc, cid in linked.items() if cid in self.cases
        }
        return [self.cases[i] for i in ids], by_incident

    # ------------------------------------------------------------------ after a commit

    def committed(
        self,
        cases: Iterable[CaseRecord],
        incidents: dict[str, int],
        transition_id: int | None,
        newest: float,
    ) -> None:
        """Remember a committed batch: its new cases, incidents and last transition id."""
        for case in cases:
            self.add(case)
        self.incidents.update(incidents)
        if transition_id is not None:
            self.transition_id = max(self.transition_id, transition_id)
        self.newest = max(self.newest, newest)

    def trim(self, keep_s: float) -> None:
        """Drop cases (and their incidents) last seen more than ``keep_s`` before the newest."""
        if self.horizon is None:
            return
        horizon = self.newest - keep_s
        if horizon <= self.horizon:
            return
        gone = {cid for cid, case in self.cases.items() if case.last_seen < horizon}
        for cid in gone:
            case = self.cases.pop(cid)
            self.by_place.get((case.camera_id, case.event_code), set()).discard(cid)
        self.incidents = {i: cid for i, cid in self.incidents.items() if cid in self.cases}
        self.horizon = horizon


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]
