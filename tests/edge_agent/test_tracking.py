"""Tracker over sparse samples: matching by IoU and class, stillness, carriers, expiry."""

from __future__ import annotations

import pytest

from edge_agent.detections import Detections
from edge_agent.tracking import Tracker, TrackerConfig


def D(*rows: tuple[str, tuple[float, float, float, float]]) -> Detections:
    return Detections.from_lists([b for _, b in rows], [lab for lab, _ in rows])


@pytest.mark.parametrize(
    ("second", "same"),
    [
        (("car", (102, 100, 202, 160)), True),  # jitter: IoU match
        (("car", (130, 100, 230, 160)), True),  # shifted: IoU still high enough
        (("truck", (100, 100, 200, 160)), False),  # other class never matches
        (("car", (400, 100, 500, 160)), False),  # far away: a new track
    ],
)
def test_matching_table(second: tuple[str, tuple[float, ...]], same: bool) -> None:
    tr = Tracker()
    (first,) = tr.update(0.0, D(("car", (100, 100, 200, 160))))
    seen = tr.update(1.5, D(second))  # type: ignore[arg-type]
    assert (seen[0].id == first.id) is same


def test_still_since_moved_and_hits() -> None:
    tr = Tracker()
    for t, x in [(0, 0), (1, 60), (2, 120), (3, 122), (4, 121), (5, 123)]:
        (track,) = tr.update(float(t), D(("car", (x, 0, x + 100, 60))))
    assert track.moved and track.still_since == 2.0 and track.static_for(5.0) == 3.0
    assert track.hits == 6 and track.first_seen == 0.0


def test_expiry_after_max_missed() -> None:
    tr = Tracker(TrackerConfig(max_missed_s=3.0))
    tr.update(0.0, D(("bag", (0, 0, 10, 10))))
    tr.update(2.0, Detections.empty())
    assert len(tr.tracks) == 1 and tr.tracks[0].misses == 1
    tr.update(4.0, Detections.empty())
    assert not tr.tracks and tr.get(1) is not None  # kept among the expired
