"""EventStore on real databases (SQLite and PostgreSQL): placement, matching, idempotency,
evidence, camera verification and reopening.

The helpers at the top (a tiny registry, event factories) are shared by the other
aggregator test modules.
"""

from __future__ import annotations

import itertools
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select

from aggregator.config import AggregatorConfig
from aggregator.event_types import EventTypes
from aggregator.models import CaseRow, EventRow, TransitionRow
from aggregator.store import EventStore, IncomingEvent
from aggregator.workflow import CaseState, transition_case
from gridwatch.db import CameraRow, GridUnitRow, open_db, session_scope
from gridwatch.protocol import Box, EventPayload, EventPhase

REPO = Path(__file__).resolve().parents[2]
TZ = ZoneInfo("Asia/Shanghai")
MONDAY_10AM = datetime(2026, 11, 23, 10, 0, tzinfo=TZ).timestamp()
STREET, COMMUNITY = "310117001", "310117001001"
GRID_A, GRID_B = "31011700100101", "31011700100102"
PATH_A = "松江区 › 岳阳街道 › 白云居委会 › 网格01"
CAMERAS = {"cam-1": GRID_A, "cam-2": GRID_A, "cam-3": GRID_B}
_ids = itertools.count(1)


def make_registry(url: str) -> Engine:
    """A migrated database with one street, one community, two grids and three cameras."""
    engine = open_db(url)
    units = [
        ("310117", "松江区", "district", None),
        (STREET, "岳阳街道", "street", "310117"),
        (COMMUNITY, "白云居委会", "community", STREET),
        (GRID_A, "网格01", "grid", COMMUNITY),
        (GRID_B, "网格02", "grid", COMMUNITY),
    ]
    with session_scope(engine) as s:
        for code, name, level, parent in units:
            path = " › ".join(u[1] for u in units[: units.index((code, name, level, parent)) + 1])
            path = path if level != "grid" else f"{PATH_A[:-4]}{name}"
            s.add(
                GridUnitRow(
                    code=code, name=name, level=level, kind=None, parent_code=parent,
                    path=path, geometry={},
                )
            )  # fmt: skip
        s.flush()
        for cam, grid in CAMERAS.items():
            s.add(
                CameraRow(
                    camera_id=cam, name=cam, main_url="rtsp://admin:hunter2@127.0.0.1:9/1",
                    sub_url="rtsp://admin:hunter2@127.0.0.1:9/2", lon=121.2, lat=31.0,
                    enabled=True, analysis_interval_s=2.0, zones=[], tags=[], grid_code=grid,
                    community_code=COMMUNITY, street_code=STREET,
                    grid_path=f"{PATH_A[:-4]}{'网格01' if grid == GRID_A else '网格02'}",
                    fingerprint="0" * 32,
                )
            )  # fmt: skip
    return engine


def new_id() -> str:
    return f"{next(_ids):032x}"


def event(
    *,
    camera: str = "cam-1",
    code: str = "05-05",
    t: float = MONDAY_10AM,
    incident: str | None = None,
    phase: EventPhase = EventPhase.START,
    boxes: tuple[tuple[float, float, float, float], ...] = ((0.1, 0.1, 0.3, 0.3),),
    conf: float = 0.8,
    evidence: tuple[str, ...] = (),
) -> EventPayload:
    return EventPayload(
        event_id=new_id(),
        incident_id=incident or new_id(),
        phase=phase,
        camera_id=camera,
        rule_id="parking",
        event_code=code,
        t_start=t - 30,
        t_event=t,
        confidence=conf,
        boxes=[Box(cls="car", conf=conf, xyxy=b) for b in boxes],
        model="yolo11n",
        evidence=list(evidence),
    )


def incoming(payload: EventPayload, blobs: dict[str, bytes] | None = None) -> IncomingEvent:
    return IncomingEvent(payload, "node-0", blobs or {}, payload.t_event + 1)


def event_types() -> EventTypes:
    return EventTypes.load(REPO / "configs/event_types.yaml")


def make_store(engine: Engine, tmp_path: Path, **cases: float) -> EventStore:
    config = AggregatorConfig.model_validate({"cases": cases})
    return EventStore(engine, tmp_path / "evidence", config, event_types())


def cases_of(engine: Engine) -> list[CaseRow]:
    with session_scope(engine) as s:
        return list(s.scalars(select(CaseRow).order_by(CaseRow.id)))


def events_of(engine: Engine) -> list[EventRow]:
    with session_scope(engine) as s:
        return list(s.scalars(select(EventRow).order_by(EventRow.t_event)))


# --------------------------------------------------------------------------- tests


def test_events_are_placed_matched_and_idempotent(db_url: str, tmp_path: Path) -> None:
    engine = make_registry(db_url)
    store = make_store(engine, tmp_path)
    first = event(evidence=("snapshot.jpg",))
    again = event(incident=first.incident_id, t=MONDAY_10AM + 60, conf=0.95)
    batch = [incoming(first, {"snapshot.jpg": b"\xff\xd8jpeg"}), incoming(again)]
    result = store.commit_events([*batch, batch[0]])  # a duplicate inside the batch
    assert result.committed == [first.event_id, again.event_id] and result.rejected == []
    assert store.commit_events(batch).committed == [first.event_id, again.event_id]  # replay

    (case,) = cases_of(engine)
    assert (case.grid_code, case.street_code, case.state) == (GRID_A, STREET, "pending_review")
    assert case.grid_path.endswith("网格01") and case.department == "交警"
    assert (case.sightings, case.max_confidence) == (2, 0.95)
    assert (case.first_seen, case.last_seen) == (MONDAY_10AM - 30, MONDAY_10AM + 60)
    rows = events_of(engine)
    assert [r.event_id for r in rows] == [first.event_id, again.event_id]
    assert {r.case_id for r in rows} == {case.id} and rows[0].grid_code == GRID_A
    (rel,) = rows[0].evidence
    assert rel.startswith("2026/11/23/") and rel.endswith(f"{first.event_id}/snapshot.jpg")
    assert (tmp_path / "evidence" / rel).read_bytes() == b"\xff\xd8jpeg"
    with session_scope(engine) as s:
        opened = s.scalars(select(TransitionRow)).all()
    assert [(t.action, t.to_state, t.actor) for t in opened] == [
        ("open", "pending_review", "camera")
    ]


def test_unknown_camera_is_rejected(sqlite_url: str, tmp_path: Path) -> None:
    store = make_store(make_registry(sqlite_url), tmp_path)
    good, bad = event(), event(camera="cam-404")
    result = store.commit_events([incoming(good), incoming(bad)])
    assert result.committed == [good.event_id]
    assert result.rejected == [(bad.event_id, "unknown_camera")]
    assert store.known_camera("cam-1") and not store.known_camera("cam-404")


@pytest.mark.parametrize(
    ("second", "same_case"),
    [
        ({"t": MONDAY_10AM + 600}, True),  # repeated start at the same spot
        ({"t": MONDAY_10AM + 600, "camera": "cam-2"}, False),  # other camera
        ({"t": MONDAY_10AM + 600, "camera": "cam-3"}, False),  # other grid
        ({"t": MONDAY_10AM + 600, "code": "05-04"}, False),  # other event code
        ({"t": MONDAY_10AM + 7200}, False),  # beyond the 1 h window
        ({"t": MONDAY_10AM + 600, "boxes": ((0.6, 0.6, 0.9, 0.9),)}, False),  # elsewhere
        ({"t": MONDAY_10AM + 600, "boxes": ((0.12, 0.1, 0.32, 0.3),)}, True),  # overlaps
        ({"t": MONDAY_10AM + 600, "boxes": ()}, True),  # no boxes: no veto
    ],
)
def test_matching_across_batches(
    sqlite_url: str, tmp_path: Path, second: dict[str, object], same_case: bool
) -> None:
    engine = make_registry(sqlite_url)
    store = make_store(engine, tmp_path)
    store.commit_events([incoming(event())])
    store.commit_events([incoming(event(**second))])  # type: ignore[arg-type]
    assert len(cases_of(engine)) == (1 if same_case else 2)


def test_same_incident_is_one_case_even_far_apart(db_url: str, tmp_path: Path) -> None:
    engine = make_registry(db_url)
    store = make_store(engine, tmp_path, window_s=60)
    first = event()
    store.commit_events([incoming(first)])
    later = event(incident=first.incident_id, t=MONDAY_10AM + 3600, boxes=((0.7, 0.7, 0.9, 0.9),))
    store.commit_events([incoming(later)])
    (case,) = cases_of(engine)
    assert case.sightings == 2


def _handled_case(engine: Engine, store: EventStore, first: EventPayload) -> int:
    store.commit_events([incoming(first)])
    (case,) = cases_of(engine)
    types = event_types()
    for state in (CaseState.REGISTERED, CaseState.DISPATCHED, CaseState.HANDLED):
        transition_case(engine, case.id, state, actor="op", types=types, now=MONDAY_10AM + 100)
    return case.id


def test_end_event_verifies_a_handled_case(db_url: str, tmp_path: Path) -> None:
    engine = make_registry(db_url)
    store = make_store(engine, tmp_path)
    first = event()
    case_id = _handled_case(engine, store, first)
    end = event(incident=first.incident_id, phase=EventPhase.END, t=MONDAY_10AM + 200)
    store.commit_events([incoming(end)])
    (case,) = cases_of(engine)
    assert case.state == "verified" and case.ended_at == MONDAY_10AM + 200
    with session_scope(engine) as s:
        last = s.scalars(
            select(TransitionRow).where(TransitionRow.case_id == case_id).order_by(TransitionRow.id)
        ).all()[-1]
    assert (last.from_state, last.to_state, last.actor) == ("handled", "verified", "camera")


def test_still_seen_after_deadline_reopens(db_url: str, tmp_path: Path) -> None:
    engine = make_registry(db_url)
    store = make_store(engine, tmp_path, window_s=10 * 3600)
    first = event()
    _handled_case(engine, store, first)
    (case,) = cases_of(engine)
    assert case.deadline == MONDAY_10AM + 100 + 3 * 3600  # 05-05: 3 urgent hours
    before = event(incident=first.incident_id, t=case.deadline - 60)
    store.commit_events([incoming(before)])
    assert cases_of(engine)[0].state == "handled"
    after = event(t=case.deadline + 60)  # a new start at the same spot
    store.commit_events([incoming(after)])
    (case,) = cases_of(engine)
    assert case.state == "dispatched" and case.reopen_count == 1 and case.sightings == 3
    with session_scope(engine) as s:
        last = s.scalars(select(TransitionRow).order_by(TransitionRow.id.desc())).first()
    assert last is not None and last.action == "reopen" and "交警" in last.note


def test_gauges(sqlite_url: str, tmp_path: Path) -> None:
    engine = make_registry(sqlite_url)
    store = make_store(engine, tmp_path)
    store.commit_events([incoming(event()), incoming(event(code="01-02"))])
    gauges = store.gauges()
    assert gauges["cases_by_state"]["pending_review"] == 2.0
    assert gauges["cases_overdue"] == {"handle": 0.0, "verify": 0.0}


def test_throughput_smoke(sqlite_url: str, tmp_path: Path) -> None:
    """Not a benchmark: 4 batches of 500 must go through quickly and open the right cases."""
    engine = make_registry(sqlite_url)
    store = make_store(engine, tmp_path)
    cams = list(CAMERAS)
    batches = [
        [
            incoming(event(camera=cams[i % 3], code=("05-05", "01-02")[i % 2], t=MONDAY_10AM + i))
            for i in range(b * 500, (b + 1) * 500)
        ]
        for b in range(4)
    ]
    start = time.perf_counter()
    for batch in batches:
        assert len(store.commit_events(batch).committed) == 500
    assert time.perf_counter() - start < 10
    assert len(cases_of(engine)) == 6  # 3 cameras x 2 codes


def test_remembered_cases_follow_other_writers_and_late_events(
    sqlite_url: str, tmp_path: Path
) -> None:
    """SQLite keeps cases between batches: an operator's move, a trimmed case met again by a
    late event, and a rejected case are all seen as the database has them."""
    engine = make_registry(sqlite_url)
    store = make_store(engine, tmp_path, window_s=600)
    first = event()
    store.commit_events([incoming(first)])
    (case,) = cases_of(engine)
    types = event_types()
    transition_case(
        engine, case.id, CaseState.REJECTED, actor="op", types=types, reason="false_positive"
    )
    store.commit_events([incoming(event(t=MONDAY_10AM + 60))])  # rejected: a new case
    assert [c.state for c in cases_of(engine)] == ["rejected", "pending_review"]
    far = MONDAY_10AM + 10 * 3600  # trims everything seen before
    store.commit_events([incoming(event(camera="cam-3", t=far))])
    assert store.cache is not None and case.id not in store.cache.cases
    late = event(t=MONDAY_10AM + 120)  # a late sighting of the open case, from the outbox
    store.commit_events([incoming(late)])
    again = event(incident=first.incident_id, t=far + 60)  # same incident, long after
    store.commit_events([incoming(again)])
    rows = cases_of(engine)
    assert [(c.state, c.sightings) for c in rows] == [
        ("rejected", 2),
        ("pending_review", 2),
        ("pending_review", 1),
    ]
