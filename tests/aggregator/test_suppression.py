"""Known false positives on real frames (SQLite and PostgreSQL): a rejected false positive
is not raised again on its camera, while a box left at another place of the same camera,
the same thing on another camera, and anything after a lift or the expiry still are.

The events are real: the composed ``dumping`` scene through the edge pipeline (YOLO,
static objects, rules), once as it was rejected, once composed again with another seed
(the same thing another day) and once mirrored (a box at another place of the lawn); see
tests/learning_fixtures.py.
"""

# ruff: noqa: F811

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from aggregator.config import AggregatorConfig, SuppressionConfig
from aggregator.models import CASES, EVENTS, SUPPRESSIONS
from aggregator.store import EventStore, IncomingEvent
from aggregator.suppression import lift, of_camera
from aggregator.web.stats import window_summary
from aggregator.workflow import CaseState, transition_case
from gridwatch.protocol import EventPhase
from tests.aggregator.test_store import MONDAY_10AM, TZ, event_types, make_registry
from tests.learning_fixtures import dumping_starts  # noqa: F401 (a fixture)

pytestmark = pytest.mark.yolo
DAY = 86400.0


def incoming(start: Any, at: float, camera: str = "cam-1") -> IncomingEvent:
    """A replayed START as it would arrive at ``at`` (new ids: another incident)."""
    shift = at - 1.0 - start.t_event
    ev = dataclasses.replace(
        start,
        camera_id=camera,
        event_id=uuid.uuid4().hex,
        incident_id=uuid.uuid4().hex,
        t_start=start.t_start + shift,
        t_event=start.t_event + shift,
    )
    return IncomingEvent(ev.to_payload(), "node-1", ev.blobs(), at)


def follow_up(first: IncomingEvent, at: float) -> IncomingEvent:
    """The END of ``first``'s incident."""
    end = first.payload.model_copy(
        update={"event_id": uuid.uuid4().hex, "phase": EventPhase.END, "frame": None,
                "evidence": [], "t_event": at - 1.0}
    )  # fmt: skip
    return IncomingEvent(end, "node-1", {}, at)


def case_of(engine: Engine, event_id: str) -> int | None:
    with engine.connect() as conn:
        return conn.execute(
            select(EVENTS.c.case_id).where(EVENTS.c.event_id == event_id)
        ).scalar_one()


def held_by(engine: Engine, event_id: str) -> int | None:
    with engine.connect() as conn:
        return conn.execute(
            select(EVENTS.c.suppressed_by).where(EVENTS.c.event_id == event_id)
        ).scalar_one()


def make(db_url: str, tmp_path: Path, **suppression: Any) -> EventStore:
    config = AggregatorConfig(suppression=SuppressionConfig(**suppression))
    return EventStore(make_registry(db_url), tmp_path / "evidence", config, event_types())


def reject(store: EventStore, case_id: int, reason: str, at: float) -> None:
    transition_case(store.engine, case_id, CaseState.REJECTED, actor="op-wang",
                    types=store.types, reason=reason, now=at)  # fmt: skip


def test_a_rejected_false_positive_is_not_raised_again_on_its_camera(
    db_url: str, tmp_path: Path, dumping_starts: dict[str, Any]
) -> None:
    store = make(db_url, tmp_path)
    t0 = MONDAY_10AM
    first = incoming(dumping_starts["first"], t0)
    assert first.payload.frame is not None and first.payload.frame.signature
    store.commit_events([first])
    case_id = case_of(store.engine, first.payload.event_id)
    assert case_id is not None
    reject(store, case_id, "false_positive", t0 + 600)
    with store.engine.connect() as conn:
        (learnt,) = of_camera(conn, "cam-1", t0 + 600, store.config.suppression)
    assert learnt.active and learnt.suppression.case_id == case_id

    # The next day the same thing happens again at the same place: held back.
    again = incoming(dumping_starts["again"], t0 + DAY)
    store.commit_events([again, follow_up(again, t0 + DAY + 60)])
    assert case_of(store.engine, again.payload.event_id) is None
    assert held_by(store.engine, again.payload.event_id) == learnt.suppression.id
    with store.engine.connect() as conn:
        ends = conn.execute(
            select(func.count()).where(EVENTS.c.suppressed_by == learnt.suppression.id)
        ).scalar_one()
        assert ends == 2  # the START and the END of its incident
        (seen,) = of_camera(conn, "cam-1", t0 + DAY, store.config.suppression)
        assert seen.held_back == 1

    # A box left at another place of the same camera is still raised,
    elsewhere = incoming(dumping_starts["elsewhere"], t0 + DAY + 120)
    # and so is the same thing on another camera.
    other_camera = incoming(dumping_starts["again"], t0 + DAY + 180, camera="cam-3")
    store.commit_events([elsewhere, other_camera])
    assert case_of(store.engine, elsewhere.payload.event_id) is not None
    assert case_of(store.engine, other_camera.payload.event_id) is not None
    assert held_by(store.engine, elsewhere.payload.event_id) is None

    # The statistics count what was held back, per rule and per camera.
    with store.engine.connect() as conn:
        summary = window_summary(conn, t0, t0 + 2 * DAY, "day", TZ)
    assert summary.totals.suppressed == 1
    assert summary.by_rule["dumping"].suppressed == 1
    assert summary.by_camera["cam-1"].suppressed == 1 and summary.by_camera["cam-3"].suppressed == 0
    assert summary.totals.opened == 3 and summary.totals.false_positives == 1


def test_lifting_and_expiry_bring_look_alikes_back(
    db_url: str, tmp_path: Path, dumping_starts: dict[str, Any]
) -> None:
    store = make(db_url, tmp_path, ttl_s=3 * DAY)
    t0 = MONDAY_10AM
    first = incoming(dumping_starts["first"], t0)
    store.commit_events([first])
    case_id = case_of(store.engine, first.payload.event_id)
    assert case_id is not None
    reject(store, case_id, "not_a_problem_here", t0 + 60)
    held = incoming(dumping_starts["again"], t0 + DAY)
    store.commit_events([held])
    assert case_of(store.engine, held.payload.event_id) is None

    # An engineer lifts it: the same look-alike opens a case again.
    with store.engine.connect() as conn:
        sid = conn.execute(select(SUPPRESSIONS.c.id)).scalar_one()
    lifted = lift(store.engine, sid, actor="eng-li", at=t0 + DAY + 10)
    assert lifted is not None and lifted.lifted_by == "eng-li"
    after = incoming(dumping_starts["again"], t0 + DAY + 60)
    store.commit_events([after])
    case_after = case_of(store.engine, after.payload.event_id)
    assert case_after is not None

    # Rejected again: held back for ttl_s (3 days), then raised again.
    reject(store, case_after, "false_positive", t0 + DAY + 120)
    within = incoming(dumping_starts["first"], t0 + 2 * DAY)
    expired = incoming(dumping_starts["first"], t0 + 4 * DAY + 180)
    store.commit_events([within])
    store.commit_events([expired])
    assert case_of(store.engine, within.payload.event_id) is None
    assert case_of(store.engine, expired.payload.event_id) is not None


@pytest.mark.parametrize("reason", ["not_our_business", "other"])
def test_rejections_that_are_real_problems_teach_nothing(
    db_url: str, tmp_path: Path, dumping_starts: dict[str, Any], reason: str
) -> None:
    store = make(db_url, tmp_path)
    first = incoming(dumping_starts["first"], MONDAY_10AM)
    store.commit_events([first])
    case_id = case_of(store.engine, first.payload.event_id)
    assert case_id is not None
    reject(store, case_id, reason, MONDAY_10AM + 60)
    again = incoming(dumping_starts["again"], MONDAY_10AM + DAY)
    store.commit_events([again])
    assert case_of(store.engine, again.payload.event_id) is not None
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(SUPPRESSIONS)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(CASES)).scalar_one() == 2
