"""The case workflow: every legal move, illegal ones refused, departments and deadlines."""

from __future__ import annotations

from datetime import datetime

import pytest

from aggregator.event_types import EventTypes, EventTypesFile
from aggregator.workflow import (
    ALLOWED,
    CaseRecord,
    CaseState,
    IllegalTransition,
    apply_transition,
    is_overdue,
    parse_target,
    walk,
)
from gridwatch.config import ConfigError, check_files
from tests.aggregator.test_store import MONDAY_10AM, REPO, TZ, event_types

S = CaseState
PLACE = ("31011700100101", "310117001001", "310117001", "松江区 › 岳阳街道 › 白云居委会 › 网格01")
REACH = {  # a path from pending_review to each state
    S.PENDING_REVIEW: [],
    S.REGISTERED: [S.REGISTERED],
    S.REJECTED: [S.REJECTED],
    S.DISPATCHED: [S.REGISTERED, S.DISPATCHED],
    S.HANDLED: [S.REGISTERED, S.DISPATCHED, S.HANDLED],
    S.VERIFIED: [S.REGISTERED, S.DISPATCHED, S.HANDLED, S.VERIFIED],
    S.CLOSED: [S.REGISTERED, S.DISPATCHED, S.HANDLED, S.VERIFIED, S.CLOSED],
}


def case_in(state: CaseState, code: str = "05-05") -> CaseRecord:
    case = CaseRecord.new(
        "e" * 32, kind="event", event_code=code, camera_id="cam-1", place=PLACE, at=MONDAY_10AM
    )
    case.id = 7
    for step in REACH[state]:
        apply_transition(
            case, step, actor="op", at=MONDAY_10AM, types=event_types(), reason="false_positive"
        )
    return case


LEGAL = [(src, dst) for src, targets in ALLOWED.items() for dst in targets]
ILLEGAL = [
    (S.PENDING_REVIEW, S.DISPATCHED),
    (S.PENDING_REVIEW, S.CLOSED),
    (S.REGISTERED, S.HANDLED),
    (S.DISPATCHED, S.VERIFIED),
    (S.DISPATCHED, S.CLOSED),
    (S.HANDLED, S.CLOSED),
    (S.REJECTED, S.REGISTERED),
    (S.CLOSED, S.PENDING_REVIEW),
]


@pytest.mark.parametrize(("src", "dst"), LEGAL, ids=[f"{a}->{b}" for a, b in LEGAL])
def test_every_legal_transition_is_recorded(src: CaseState, dst: CaseState) -> None:
    case = case_in(src)
    record = apply_transition(
        case,
        dst,
        actor="alice",
        at=MONDAY_10AM + 60,
        types=event_types(),
        note="n",
        reason="false_positive",
    )
    assert case.state == dst
    assert (record.from_state, record.to_state, record.actor, record.note) == (
        src,
        dst,
        "alice",
        "n",
    )
    assert record.action == (
        "reopen" if dst is S.DISPATCHED and src is not S.REGISTERED else record.action
    )
    if dst is S.DISPATCHED:
        assert case.department == "交警" and case.deadline is not None
        assert case.reopen_count == (0 if src is S.REGISTERED else 1)


@pytest.mark.parametrize(("src", "dst"), ILLEGAL, ids=[f"{a}->{b}" for a, b in ILLEGAL])
def test_illegal_transitions_are_refused(src: CaseState, dst: CaseState) -> None:
    case = case_in(src)
    with pytest.raises(IllegalTransition) as info:
        apply_transition(case, dst, actor="alice", at=MONDAY_10AM, types=None)
    message = str(info.value)
    assert f"case 7 is {src}" in message and f"allowed from {src}:" in message
    for allowed in ALLOWED[src]:
        assert str(allowed) in message
    assert case.state == src  # nothing changed


@pytest.mark.parametrize(
    ("reason", "duplicate_of", "ok"),
    [
        (None, None, False),
        ("false_positive", None, True),
        ("not_our_business", None, True),
        ("other", None, True),
        ("duplicate", None, False),
        ("duplicate", 7, False),  # a duplicate of itself
        ("duplicate", 3, True),
        ("bogus", None, False),
    ],
)
def test_rejecting_needs_a_reason(reason: str | None, duplicate_of: int | None, ok: bool) -> None:
    case = case_in(S.PENDING_REVIEW)
    if not ok:
        with pytest.raises(IllegalTransition):
            apply_transition(
                case, S.REJECTED, actor="a", at=0, types=None, reason=reason,
                duplicate_of=duplicate_of,
            )  # fmt: skip
        return
    apply_transition(
        case, S.REJECTED, actor="a", at=0, types=None, reason=reason, duplicate_of=duplicate_of
    )
    assert (case.state, case.reject_reason, case.duplicate_of) == (S.REJECTED, reason, duplicate_of)


def test_reopened_is_an_alias_and_unknown_states_are_named() -> None:
    assert parse_target("reopened") is S.DISPATCHED
    with pytest.raises(ValueError, match="unknown state 'done'"):
        parse_target("done")


def _local(t: float) -> str:
    return datetime.fromtimestamp(t, TZ).strftime("%a %H:%M")


@pytest.mark.parametrize(
    ("code", "dispatched", "department", "deadline", "verify_by"),
    [
        # 05-05 illegal parking: 3 urgent (wall-clock) hours, verify 1.5
        ("05-05", (2026, 11, 27, 16, 0), "交警", "Fri 19:00", "Fri 20:30"),
        # 01-03 dumping: 4 working hours, Friday 16:00 (1.5 h left) -> Monday 11:00; verify 2
        ("01-03", (2026, 11, 27, 16, 0), "市容环卫", "Mon 11:00", "Mon 13:00"),
        # 05-04 shopfront: 2 working hours from Saturday -> Monday 10:30
        ("05-04", (2026, 11, 28, 12, 0), "城管执法中队", "Mon 10:30", "Mon 11:30"),
        # camera maintenance: 16 working hours = a 9 h day + 7 h; verify 4 crosses the night
        ("BJ01-22", (2026, 11, 23, 8, 30), "公安视频运维", "Tue 15:30", "Wed 10:30"),
        # an unlisted code: the file's defaults
        ("09-99", (2026, 11, 23, 9, 0), "街道网格中心", "Mon 17:00", "Tue 12:00"),
    ],
)
def test_departments_and_deadlines_from_the_yaml(
    code: str, dispatched: tuple[int, ...], department: str, deadline: str, verify_by: str
) -> None:
    types = event_types()
    case = case_in(S.REGISTERED, code)
    at = datetime(*dispatched, tzinfo=TZ).timestamp()
    apply_transition(case, S.DISPATCHED, actor="op", at=at, types=types)
    assert case.department == department and case.deadline is not None
    assert _local(case.deadline) == deadline
    assert not is_overdue(case, case.deadline) and is_overdue(case, case.deadline + 1)
    apply_transition(case, S.HANDLED, actor="dept", at=case.deadline, types=types)
    assert case.verify_deadline is not None and _local(case.verify_deadline) == verify_by


def test_walk_moves_along_the_main_line() -> None:
    case = case_in(S.DISPATCHED)
    steps = walk(case, S.CLOSED, actor="system", at=MONDAY_10AM, types=event_types())
    assert [s.to_state for s in steps] == ["handled", "verified", "closed"]
    with pytest.raises(IllegalTransition):
        walk(case_in(S.REJECTED), S.CLOSED, actor="system", at=0, types=None)


def test_event_types_file_is_valid_and_checked(tmp_path) -> None:  # type: ignore[no-untyped-def]
    types = EventTypes.load(REPO / "configs/event_types.yaml")
    codes = set(types.by_code)
    assert {"01-02", "01-03", "01-04", "01-07", "01-08", "05-01", "05-03", "05-04"} <= codes
    assert {"05-05", "05-06", "05-07", "05-10", types.maintenance_code} <= codes
    assert all(t.name_zh and t.name_en and t.department for t in types.spec.types)
    bad = tmp_path / "event_types.yaml"
    bad.write_text(
        "maintenance_code: X1-01\ntypes:\n  - {code: '05-05', name_zh: a, name_en: b,"
        " department: c, handle_hours: -1, verify_hours: 1, colour: red}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        EventTypes.load(bad)
    text = str(info.value)
    assert "types.0.handle_hours" in text and "types.0.colour" in text
    _, issues, unknown = check_files([bad])
    assert issues and not unknown
    assert EventTypesFile  # the schema `gridwatch config check` uses
