"""Scoring of ``gridwatch eval`` on cases whose answer is known (shared/FOOTAGE.md)."""

from __future__ import annotations

from typing import Any

import pytest

from edge_agent.evaluation.labels import Clip
from edge_agent.evaluation.scoring import (
    EventRecord,
    Verdict,
    intersects,
    per_category,
    per_rule,
    score_clip,
    totals,
)

BAG = (0.60, 0.70, 0.70, 0.90)  # where the labelled bag lies
ON_BAG = (0.62, 0.72, 0.69, 0.88)
ELSEWHERE = (0.05, 0.05, 0.15, 0.20)


def clip(category: str = "dumping", **incident: Any) -> Clip:
    events = []
    if category != "negative":
        events = [
            {
                "t_start_s": 10.0,
                "t_owner_leaves_s": 15.0,
                "t_removed_s": None,
                "approx_box_normalized": list(BAG),
                **incident,
            }
        ]
    return Clip.model_validate({"file": "x.mp4", "category": category, "events": events})


def ev(
    phase: str,
    t: float,
    box: tuple[float, float, float, float] = ON_BAG,
    code: str = "01-03",
    incident: str = "i1",
    rule: str = "dumping",
) -> EventRecord:
    return EventRecord.of(
        {
            "event_id": f"{incident}-{phase}-{t}",
            "phase": phase,
            "event_code": code,
            "rule_id": rule,
            "incident_id": incident,
            "t_event_s": t,
            "boxes": [{"cls": "bag", "conf": 0.9, "xyxy": list(box)}],
        }
    )


@pytest.mark.parametrize(
    ("events", "verdicts", "hits", "false", "premature"),
    [
        # a hit: right code, after t_start_s, box on the bag
        ([ev("start", 25)], [Verdict.HIT], 1, 0, 0),
        # a miss: nothing raised
        ([], [], 0, 0, 0),
        # wrong place
        ([ev("start", 25, ELSEWHERE)], [Verdict.FALSE], 0, 1, 0),
        # wrong code (parking on a dumping clip)
        ([ev("start", 25, code="05-05", rule="illegal-parking")], [Verdict.FALSE], 0, 1, 0),
        # before the incident began
        ([ev("start", 5)], [Verdict.FALSE], 0, 1, 0),
        # a second START for the same bag: a duplicate, also false
        (
            [ev("start", 25), ev("start", 40, incident="i2")],
            [Verdict.HIT, Verdict.DUPLICATE],
            1,
            1,
            0,
        ),
        # an END while the bag still lies there (t_removed_s null)
        ([ev("start", 25), ev("end", 90)], [Verdict.HIT, Verdict.PREMATURE_END], 1, 0, 1),
        # an END of a false START is no premature END
        (
            [ev("start", 25, ELSEWHERE), ev("end", 90, ELSEWHERE)],
            [Verdict.FALSE, Verdict.END],
            0,
            1,
            0,
        ),
        # exposed garbage (01-02) counts for dumping as well
        ([ev("start", 25, code="01-02", rule="exposed-garbage")], [Verdict.HIT], 1, 0, 0),
    ],
)
def test_verdicts(
    events: list[EventRecord], verdicts: list[Verdict], hits: int, false: int, premature: int
) -> None:
    score = score_clip(clip(), events, replayed_s=120)
    assert [v for _, v in score.verdicts] == verdicts
    assert (score.hits, score.false_events, score.premature_ends) == (hits, false, premature)


def test_time_to_detect_counts_from_the_owner_leaving_else_the_start() -> None:
    with_owner = score_clip(clip(), [ev("start", 27.5)], 60)
    assert with_owner.incidents[0].time_to_detect_s == pytest.approx(12.5)
    no_owner = score_clip(clip(t_owner_leaves_s=None), [ev("start", 27.5)], 60)
    assert no_owner.incidents[0].time_to_detect_s == pytest.approx(17.5)


def test_end_after_removal_is_not_premature_and_its_delay_is_kept() -> None:
    removed = clip(t_removed_s=60.0)
    early = score_clip(removed, [ev("start", 25), ev("end", 50)], 120)
    assert [v for _, v in early.verdicts] == [Verdict.HIT, Verdict.PREMATURE_END]
    late = score_clip(removed, [ev("start", 25), ev("end", 75)], 120)
    assert [v for _, v in late.verdicts] == [Verdict.HIT, Verdict.END]
    assert late.incidents[0].end_delay_s == pytest.approx(15.0)
    assert totals([late])["max_end_delay_s"] == pytest.approx(15.0)


def test_negative_clip_every_start_is_false_and_counts_per_hour() -> None:
    neg = clip("negative")
    score = score_clip(neg, [ev("start", 10), ev("end", 40), ev("start", 50, incident="i2")], 1800)
    assert score.false_events == 2 and score.premature_ends == 0
    t = totals([score])
    assert t["negative_hours"] == pytest.approx(0.5)
    assert t["false_per_camera_hour"] == pytest.approx(4.0)
    assert t["recall"] is None and t["precision"] == 0.0


def test_two_bags_two_starts_two_hits_the_nearer_box_wins() -> None:
    other = (0.20, 0.70, 0.30, 0.90)
    two = Clip.model_validate(
        {
            "file": "two.mp4",
            "category": "dumping",
            "events": [
                {"t_start_s": 10, "approx_box_normalized": list(BAG)},
                {"t_start_s": 12, "approx_box_normalized": list(other)},
            ],
        }
    )
    # The first START spans both bags but lies mostly on the second one.
    wide = (0.25, 0.72, 0.62, 0.88)
    score = score_clip(two, [ev("start", 20, wide), ev("start", 22, ON_BAG, incident="i2")], 60)
    assert score.hits == 2 and score.false_events == 0
    assert score.incidents[1].hit_by is not None and score.incidents[1].hit_by.t_event_s == 20


def test_totals_per_category_and_per_rule() -> None:
    dump = score_clip(clip(), [ev("start", 25), ev("end", 90)], 120)
    park = score_clip(
        clip("parking"),
        [
            ev("start", 30, code="05-05", rule="illegal-parking"),
            ev("start", 40, ELSEWHERE, "05-05", "i2", "illegal-parking"),
        ],
        120,
    )
    neg = score_clip(clip("negative"), [], 3600)
    t = totals([dump, park, neg])
    assert (t["clips"], t["incidents"], t["hits"], t["starts"]) == (3, 2, 2, 3)
    assert t["recall"] == 1.0 and t["precision"] == pytest.approx(0.667)
    assert t["false_per_camera_hour"] == 0.0 and t["premature_ends"] == 1
    assert t["median_time_to_detect_s"] == pytest.approx((10.0 + 15.0) / 2)
    cats = per_category([dump, park, neg])
    assert set(cats) == {"dumping", "parking", "negative"}
    assert cats["parking"]["false_events"] == 1
    rules = per_rule([dump, park, neg])
    assert rules["illegal-parking"] == {
        "starts": 2,
        "hits": 1,
        "false_events": 1,
        "duplicates": 0,
        "premature_ends": 0,
    }
    assert rules["dumping"]["premature_ends"] == 1


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ((0, 0, 0.5, 0.5), (0.4, 0.4, 1, 1), True),
        ((0, 0, 0.5, 0.5), (0.5, 0.5, 1, 1), False),  # touching corners share no area
        ((0, 0, 0.2, 0.2), (0.6, 0.6, 1, 1), False),
    ],
)
def test_intersects(a: Any, b: Any, expected: bool) -> None:
    assert intersects(a, b) is expected
