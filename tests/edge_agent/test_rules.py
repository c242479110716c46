"""Rule kinds on synthetic tracks: dwell, cooldown, re-arm, END, zones, carriers, counts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from edge_agent.analyzer import CameraAnalyzer
from edge_agent.config import StaticConfig
from edge_agent.detections import Detections
from edge_agent.rules.config import RulesFile, RuleSpec, load_rules
from edge_agent.rules.zones import WHOLE_FRAME, PolygonZone, zones_for
from gridwatch.protocol import EventPhase
from gridwatch.registry.zones import Zone, ZonePurpose

SIZE = (400, 200)
IMAGE = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
LOWER = Zone("low", ZonePurpose.NO_PARKING, ((0, 0.5), (1, 0.5), (1, 1), (0, 1)))
UPPER = Zone("up", ZonePurpose.NO_PARKING, ((0, 0), (1, 0), (1, 0.5), (0, 0.5)))
CAR = ("car", (100.0, 120.0, 180.0, 180.0))  # foot point in the lower half
BAG = ("bag", (200.0, 160.0, 220.0, 180.0))


def rule(kind: str, **kw: object) -> RuleSpec:
    base: dict[str, object] = {
        "id": kind,
        "kind": kind,
        "event_code": "05-05",
        "zones": ["no_parking"],
        "classes": ["car"],
        "dwell_s": 5,
        "end_after_s": 4,
        "cooldown_s": 100,
    }
    return RuleSpec.model_validate({**base, **kw})


def run(
    spec: RuleSpec,
    frames: Callable[[float], list[tuple[str, tuple[float, ...]]]],
    until: float,
    zones: list[Zone] | None = None,
    static: bool = False,
) -> list[tuple[float, str, str]]:
    """Events (t, phase, incident_id) of one rule over samples every second.

    ``static``: static objects on (left objects are static objects: here, the detector's
    boxes that hold still, since the synthetic picture is blank).
    """
    an = CameraAnalyzer("cam", zones or [], [spec], static=StaticConfig(enabled=static))
    out = []
    for t in np.arange(0.0, until, 1.0):
        rows = frames(float(t))
        dets = Detections.from_lists([b for _, b in rows], [c for c, _ in rows], [0.9] * len(rows))
        out += [(float(t), e.phase.value, e.incident_id) for e in an.process(float(t), IMAGE, dets)]
    return out


@pytest.mark.parametrize(
    ("present", "zones", "expected"),
    [
        ((2, 30), None, [(7.0, "start")]),  # dwell 5 s after first seen at 2
        ((2, 6), None, []),  # gone before the dwell
        ((2, 12), None, [(7.0, "start"), (15.0, "end")]),  # END 4 s after last seen at 11
        ((2, 30), [LOWER], [(7.0, "start")]),  # in a zone of the rule's purpose
        ((2, 30), [UPPER], []),  # zone elsewhere
        ((2, 30), [Zone("b", ZonePurpose.BIN_AREA, LOWER.polygon)], []),  # other purpose: off
    ],
)
def test_dwell(
    present: tuple[float, float], zones: list[Zone] | None, expected: list[tuple[float, str]]
) -> None:
    events = run(rule("dwell"), lambda t: [CAR] if present[0] <= t < present[1] else [], 30, zones)
    assert [(t, p) for t, p, _ in events] == expected
    if len(events) == 2:
        assert events[0][2] == events[1][2]  # START and END share the incident id


def test_moving_object_never_dwells() -> None:
    def frames(t: float) -> list[tuple[str, tuple[float, ...]]]:
        x = 10 + 30 * t
        return [("car", (x, 120, x + 60, 180))]

    assert run(rule("dwell"), frames, 10) == []


@pytest.mark.parametrize(("gap", "starts"), [(2, 1), (10, 2)])
def test_rearm_after_leaving(gap: int, starts: int) -> None:
    """A short gap keeps the incident (one START); leaving ends it, and coming back re-arms."""
    events = run(rule("dwell"), lambda t: [] if 10 <= t < 10 + gap else [CAR], 40)
    assert sum(p == "start" for _, p, _ in events) == starts


def test_cooldown_suppresses_a_second_start_at_the_same_place() -> None:
    """The track breaks (class flips away and back) while its incident is still open."""

    def frames(t: float) -> list[tuple[str, tuple[float, ...]]]:
        if 10 <= t < 13:
            return [("car", (100.0, 130.0, 180.0, 190.0))]
        return [CAR]

    short = run(rule("dwell", cooldown_s=100, end_after_s=20), frames, 30)
    assert sum(p == "start" for _, p, _ in short) == 1


def _dumping(carrier_leaves: float | None) -> Callable[[float], list]:  # type: ignore[type-arg]
    def frames(t: float) -> list[tuple[str, tuple[float, ...]]]:
        rows: list[tuple[str, tuple[float, ...]]] = []
        if t >= 3:
            rows.append(BAG)
        if t < 3:
            rows.append(("person", (150 + 15 * t, 110, 180 + 15 * t, 180)))
        elif carrier_leaves is None or t < carrier_leaves:
            rows.append(("person", (190.0, 110.0, 220.0, 180.0)))
        elif t < carrier_leaves + 3:
            x = 190 - 60 * (t - carrier_leaves + 1)
            rows.append(("person", (x, 110, x + 30, 180)))
        return rows

    return frames


@pytest.mark.parametrize(
    ("leaves", "require", "first_start"),
    [
        (8.0, True, 13.0),  # the carrier stood over the bag until 8: 5 s later
        (None, True, None),  # the person stays with the bag: no dumping
        (4.0, True, 8.0),
    ],
)
def test_left_object_after_carrier_left(
    leaves: float | None, require: bool, first_start: float | None
) -> None:
    spec = rule(
        "left_object",
        event_code="01-03",
        zones=["no_dumping"],
        classes=["bag"],
        require_carrier=require,
    )
    starts = [t for t, p, _ in run(spec, _dumping(leaves), 25, static=True) if p == "start"]
    assert starts == ([first_start] if first_start is not None else [])


@pytest.mark.parametrize("require", [True, False])
def test_left_object_without_carrier(require: bool) -> None:
    spec = rule(
        "left_object",
        event_code="01-03",
        zones=["no_dumping"],
        classes=["bag"],
        require_carrier=require,
    )
    events = run(spec, lambda t: [BAG] if t >= 3 else [], 20, static=True)
    starts = [t for t, p, _ in events if p == "start"]
    assert bool(starts) is not require


@pytest.mark.parametrize(("vendor", "count"), [(True, 1), (False, 0)])
def test_vending_needs_a_person_beside_the_props(vendor: bool, count: int) -> None:
    spec = rule(
        "vending",
        event_code="05-01",
        zones=["no_vending"],
        classes=["person"],
        props=["umbrella", "table"],
        near=0.5,
    )

    def frames(t: float) -> list[tuple[str, tuple[float, ...]]]:
        rows: list[tuple[str, tuple[float, ...]]] = [("table", (100.0, 130.0, 160.0, 170.0))]
        if vendor:
            rows.append(("person", (165.0, 90.0, 185.0, 170.0)))
        else:  # passers-by far from the stall
            rows.append(("person", (300 + 10 * t % 80, 90, 320 + 10 * t % 80, 170)))
        return rows

    events = run(spec, frames, 20)
    assert sum(p == "start" for _, p, _ in events) == count
    if count:
        assert events[0][0] == 10.0  # the table has held still 5 s at 5, the person beside: +5


@pytest.mark.parametrize(("bikes", "starts"), [(2, 0), (3, 1), (5, 1)])
def test_count_threshold(bikes: int, starts: int) -> None:
    spec = rule(
        "count", event_code="05-06", zones=["bike_parking"], classes=["bicycle"], min_count=3
    )
    rows = [("bicycle", (20.0 + 50 * i, 140.0, 60.0 + 50 * i, 180.0)) for i in range(bikes)]
    events = run(spec, lambda t: rows, 15)
    assert sum(p == "start" for _, p, _ in events) == starts


def test_zone_selection_by_purpose() -> None:
    spec = rule("dwell")
    bins = Zone("b", ZonePurpose.BIN_AREA, LOWER.polygon)
    ignore = Zone("i", ZonePurpose.IGNORE, LOWER.polygon)
    assert zones_for(spec, []) == [WHOLE_FRAME]
    assert zones_for(spec, [ignore]) == [WHOLE_FRAME]
    assert zones_for(spec, [LOWER, UPPER, bins]) == [PolygonZone.of(LOWER), PolygonZone.of(UPPER)]
    assert zones_for(spec, [bins]) == []
    dets = Detections.from_lists([CAR[1], (10, 10, 50, 60)], ["car", "car"])
    assert PolygonZone.of(LOWER).trigger(dets, SIZE).tolist() == [True, False]


def test_ignore_zone_masks_detections() -> None:
    ignore = Zone("i", ZonePurpose.IGNORE, LOWER.polygon)
    assert run(rule("dwell"), lambda t: [CAR], 15, [ignore]) == []


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"dwell_s": -1}, "greater than or equal to 0"),
        ({"classes": ["sofa"]}, "unknown vocabulary words"),
        ({"props": [], "kind_": "vending"}, "needs props"),
        ({"zones": ["ignore"]}, "no rule can apply"),
        ({"surprise": 1}, "Extra inputs are not permitted"),
    ],
)
def test_rule_validation(patch: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        kind = str(patch.pop("kind_", "dwell"))
        rule(kind, **patch)


def test_repo_rules_file_is_valid(repo: Path) -> None:
    rules = load_rules(repo / "configs/rules.yaml")
    codes = {r.event_code for r in rules.rules}
    assert {"01-03", "01-02", "05-01", "05-04", "05-05", "05-06"} <= codes
    with pytest.raises(ValidationError, match="repeated"):
        RulesFile(rules=[rules.rules[0], rules.rules[0]])


def test_event_maps_to_wire_payload() -> None:
    an = CameraAnalyzer("cam", [], [rule("dwell")], static=StaticConfig(enabled=False))
    events = []
    for t in range(10):
        dets = Detections.from_lists([CAR[1]], ["car"], [0.8])
        events += an.process(float(t), IMAGE, dets)
    (ev,) = events
    payload = ev.to_payload()
    assert payload.phase is EventPhase.START and payload.event_code == "05-05"
    assert payload.boxes[0].cls == "car" and payload.boxes[0].xyxy == pytest.approx(
        (0.25, 0.6, 0.45, 0.9)
    )
    assert payload.evidence == list(ev.blobs()) and "snapshot.jpg" in ev.blobs()


@pytest.mark.parametrize(
    ("label", "whole_frame", "zones", "fires"),
    [
        ("car", True, None, True),  # no zones: the whole frame
        ("car", False, None, False),  # a rule defined by its place needs a drawn zone
        ("car", False, [LOWER], True),
        ("object", True, None, True),  # unnamed static objects count on a whole frame too
        ("object", True, [LOWER], True),
    ],
)
def test_whole_frame_policy(
    label: str, whole_frame: bool, zones: list[Zone] | None, fires: bool
) -> None:
    spec = rule("dwell", classes=["car", "object"], whole_frame=whole_frame)
    events = run(spec, lambda t: [(label, CAR[1])], 20, zones)
    assert bool(events) is fires


def _queue(front_leaves: float | None) -> Callable[[float], list[tuple[str, tuple[float, ...]]]]:
    """Three cars queued bumper to bumper; from ``front_leaves`` traffic flows past the
    last one, which stays (None: the queue never moves)."""

    def frames(t: float) -> list[tuple[str, tuple[float, ...]]]:
        rows: list[tuple[str, tuple[float, ...]]] = [CAR]
        if front_leaves is None or t < front_leaves:
            rows += [("car", (185.0, 120.0, 265.0, 180.0)), ("car", (270.0, 120.0, 350.0, 180.0))]
        else:  # a new car drives past every second, never the same place twice
            x = 185.0 + (40 * t) % 160
            rows.append(("car", (x, 120.0, x + 80, 180.0)))
        return rows

    return frames


@pytest.mark.parametrize(("front_leaves", "first_start"), [(None, None), (20.0, 26.0)])
def test_parking_waits_while_queued_in_stopped_traffic(
    front_leaves: float | None, first_start: float | None
) -> None:
    spec = rule("dwell", dwell_s=5)
    events = run(spec, _queue(front_leaves), 40)
    starts = sorted(t for t, p, _ in events if p == "start")
    if first_start is None:
        assert starts == []  # 40 s in a queue that never moves: no parking
    else:  # the clock ran only once traffic flowed past it: 20 s + the 5 s dwell
        assert starts[0] == first_start and all(t >= front_leaves + 5 for t in starts)


def test_a_zone_sets_its_own_dwell() -> None:
    slow = Zone("kerb", ZonePurpose.NO_PARKING, LOWER.polygon, dwell_s=12.0)
    events = run(rule("dwell", dwell_s=5), lambda t: [CAR] if t >= 2 else [], 30, [slow])
    assert [(t, p) for t, p, _ in events] == [(14.0, "start")]
