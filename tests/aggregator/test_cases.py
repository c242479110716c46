"""Case matching as a table: the CaseMatcher on its own, without a database."""

from __future__ import annotations

from typing import Any

import pytest

from aggregator.cases import CameraPlace, CaseMatcher, boxes_overlap, iou
from aggregator.config import CaseConfig
from gridwatch.protocol import EventPhase
from tests.aggregator.test_store import MONDAY_10AM, event, event_types

T = MONDAY_10AM
PLACES = {
    "cam-1": CameraPlace("cam-1", "G1", "C1", "S1", "区 › 街 › 居 › G1"),
    "cam-2": CameraPlace("cam-2", "G1", "C1", "S1", "区 › 街 › 居 › G1"),
    "cam-3": CameraPlace("cam-3", "G2", "C1", "S1", "区 › 街 › 居 › G2"),
}


def matcher(**config: float) -> CaseMatcher:
    return CaseMatcher(CaseConfig.model_validate(config), event_types(), [], {})


def run(m: CaseMatcher, *specs: dict[str, Any]) -> list[str | None]:
    keys = []
    for spec in specs:
        ev = event(**spec)
        keys.append(m.add(ev, PLACES[ev.camera_id], ev.t_event + 1))
    return keys


@pytest.mark.parametrize(
    ("second", "same"),
    [
        ({"t": T + 60}, True),
        ({"t": T + 3599}, True),
        ({"t": T + 3700}, False),
        ({"t": T - 600}, True),  # late delivery of an earlier sighting
        ({"t": T + 60, "code": "01-02"}, False),
        ({"t": T + 60, "camera": "cam-2"}, False),
        ({"t": T + 60, "camera": "cam-3"}, False),
        ({"t": T + 60, "boxes": ((0.5, 0.5, 0.9, 0.9),)}, False),
        ({"t": T + 60, "boxes": ((0.5, 0.5, 0.9, 0.9), (0.1, 0.1, 0.29, 0.3))}, True),
    ],
)
def test_second_event_joins_or_opens(second: dict[str, Any], same: bool) -> None:
    m = matcher()
    first, other = run(m, {"t": T}, second)
    assert (first == other) is same
    assert len(m.new_keys) == (1 if same else 2)


def test_same_incident_joins_whatever_the_place() -> None:
    m = matcher(window_s=10)
    first = event(t=T)
    m.add(first, PLACES["cam-1"], T)
    far = event(t=T + 9999, incident=first.incident_id, boxes=((0.8, 0.8, 0.9, 0.9),))
    assert m.add(far, PLACES["cam-1"], T + 9999) == first.event_id
    case = m.cases[first.event_id]
    assert (case.sightings, case.last_seen, case.first_seen) == (2, T + 9999, T - 30)


def test_end_without_a_case_opens_nothing() -> None:
    m = matcher()
    assert run(m, {"phase": EventPhase.END}) == [None]
    assert m.new_keys == []


def test_tie_break_is_deterministic() -> None:
    m = matcher()
    a, b = run(
        m, {"t": T, "boxes": ((0.0, 0.0, 0.2, 0.2),)}, {"t": T, "boxes": ((0.5, 0.5, 0.7, 0.7),)}
    )
    assert a != b
    # overlaps both; both seen at T: the smaller origin key wins, every time
    (joined,) = run(m, {"t": T + 1, "boxes": ()})
    assert joined == min(a or "", b or "")


@pytest.mark.parametrize(
    ("a", "b", "threshold", "overlap"),
    [
        ([(0, 0, 1, 1)], [(0, 0, 1, 1)], 1.0, True),
        ([(0, 0, 0.5, 0.5)], [(0.5, 0.5, 1, 1)], 0.01, False),
        ([(0, 0, 0.5, 0.5)], [(0.25, 0.25, 0.75, 0.75)], 0.2, False),
        ([(0, 0, 0.5, 0.5)], [(0.25, 0.25, 0.75, 0.75)], 0.1, True),
        ([], [(0, 0, 1, 1)], 0.9, True),
    ],
)
def test_boxes_overlap(a: Any, b: Any, threshold: float, overlap: bool) -> None:
    assert boxes_overlap(a, b, threshold) is overlap
    assert iou((0, 0, 1, 1), (0, 0, 1, 1)) == 1.0
