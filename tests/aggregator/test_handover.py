"""An incident seen by two agents during a handover becomes one case.

While a dead node's cameras move (and again when they go back), two agents can watch
the same camera for a moment, and each one that sees the incident reports it with its
own incident id. The case matcher joins them: same camera, same code, same grid,
overlapping boxes, within the window. Real store, SQLite and PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aggregator.store import IncomingEvent
from gridwatch.protocol import EventPayload
from tests.aggregator.test_store import (
    MONDAY_10AM,
    cases_of,
    event,
    events_of,
    make_registry,
    make_store,
)


def from_node(node: str, payload: EventPayload) -> IncomingEvent:
    return IncomingEvent(payload, node, {}, payload.t_event + 1)


@pytest.mark.parametrize("same_batch", [True, False], ids=["same-batch", "one-after-other"])
def test_two_agents_seeing_one_incident_make_one_case(
    db_url: str, tmp_path: Path, same_batch: bool
) -> None:
    engine = make_registry(db_url)
    store = make_store(engine, tmp_path)
    # node-1 covered cam-1 while node-0 was away and saw the parked car; node-0 came
    # back, started afresh (a new incident id) and saw the same car a little shifted.
    covering = event(t=MONDAY_10AM, boxes=((0.10, 0.10, 0.30, 0.30),))
    returned = event(t=MONDAY_10AM + 40, boxes=((0.12, 0.11, 0.31, 0.30),))
    assert covering.incident_id != returned.incident_id
    batches = (
        [[from_node("node-1", covering), from_node("node-0", returned)]]
        if same_batch
        else [[from_node("node-1", covering)], [from_node("node-0", returned)]]
    )
    for batch in batches:
        store.commit_events(batch)
    (case,) = cases_of(engine)
    assert case.sightings == 2 and case.camera_id == "cam-1"
    rows = events_of(engine)
    assert {r.node_id for r in rows} == {"node-0", "node-1"}
    assert {r.case_id for r in rows} == {case.id}
    # Resent by both after an aggregator restart: still one case, two events.
    store.commit_events([from_node("node-1", covering), from_node("node-0", returned)])
    assert len(cases_of(engine)) == 1 and len(events_of(engine)) == 2
    assert cases_of(engine)[0].sightings == 2


def test_a_different_place_on_the_same_camera_stays_its_own_case(
    db_url: str, tmp_path: Path
) -> None:
    engine = make_registry(db_url)
    store = make_store(engine, tmp_path)
    store.commit_events([from_node("node-1", event(boxes=((0.1, 0.1, 0.3, 0.3),)))])
    store.commit_events(
        [from_node("node-0", event(t=MONDAY_10AM + 5, boxes=((0.6, 0.6, 0.9, 0.9),)))]
    )
    assert len(cases_of(engine)) == 2
