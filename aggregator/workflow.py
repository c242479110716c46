"""The case workflow (DOMAIN.md): review → register → dispatch → handle → verify → close.

::

    pending_review ──► registered ──► dispatched ──► handled ──► verified ──► closed
          │                │              ▲             │           │           │
          └──► rejected ◄──┘              └─────────────┴───────────┴───────────┘
                                                     reopen (返工)

``rejected`` needs a reason (false_positive, duplicate (of another case), not_our_business,
not_a_problem_here, other) and is final. A rejection as false_positive or
not_a_problem_here also teaches the camera (aggregator/suppression.py): look-alikes at the
same place are held back for a while. Going back to ``dispatched`` from handled/verified/closed is a
*reopen*: the department gets the case again, with a fresh deadline, and the case's
``reopen_count`` (rework) goes up. Every move is a :class:`TransitionRecord` (who, when,
from, to, note); an illegal move raises :class:`IllegalTransition`.

Deadlines: dispatch sets ``deadline`` (handle-by) from the event type's handle limit;
handled sets ``verify_deadline`` from its verify limit (see aggregator/event_types.py).

>>> from aggregator.event_types import EventTypes
>>> case = CaseRecord.new("e1", kind="event", event_code="05-05", camera_id="c1",
...     place=("310117001001001", "310117001001", "310117001", "松江区 › …"), at=0.0)
>>> [t.to_state for t in walk(case, CaseState.DISPATCHED, actor="op", at=1.0, types=None)]
['registered', 'dispatched']
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select

if TYPE_CHECKING:
    from aggregator.event_types import EventTypes


class CaseState(StrEnum):
    PENDING_REVIEW = "pending_review"  # opened by a camera, waiting for an operator (立案 check)
    REGISTERED = "registered"  # 立案: confirmed as a real case
    REJECTED = "rejected"  # not a case (a false positive is also a training label)
    DISPATCHED = "dispatched"  # 派遣: sent to the department; the deadline clock runs
    HANDLED = "handled"  # 处置: the department reports it fixed
    VERIFIED = "verified"  # 核查: checked on site or by the camera
    CLOSED = "closed"  # 结案


class RejectReason(StrEnum):
    FALSE_POSITIVE = "false_positive"
    DUPLICATE = "duplicate"
    NOT_OUR_BUSINESS = "not_our_business"
    NOT_A_PROBLEM_HERE = "not_a_problem_here"  # right object, but no problem at this place
    OTHER = "other"


S = CaseState
ALLOWED: dict[CaseState, tuple[CaseState, ...]] = {
    S.PENDING_REVIEW: (S.REGISTERED, S.REJECTED),
    S.REGISTERED: (S.DISPATCHED, S.REJECTED),
    S.REJECTED: (),
    S.DISPATCHED: (S.HANDLED,),
    S.HANDLED: (S.VERIFIED, S.DISPATCHED),
    S.VERIFIED: (S.CLOSED, S.DISPATCHED),
    S.CLOSED: (S.DISPATCHED,),
}
# States in which new sightings join a case (a verified, closed or rejected case is over).
OPEN_STATES = frozenset({S.PENDING_REVIEW, S.REGISTERED, S.DISPATCHED, S.HANDLED})
# The main line, used to walk a case forward (e.g. closing a maintenance case).
MAIN_LINE = (S.PENDING_REVIEW, S.REGISTERED, S.DISPATCHED, S.HANDLED, S.VERIFIED, S.CLOSED)
_ACTIONS = {
    S.REGISTERED: "register",
    S.REJECTED: "reject",
    S.DISPATCHED: "dispatch",
    S.HANDLED: "handle",
    S.VERIFIED: "verify",
    S.CLOSED: "close",
}
REOPENED = "reopened"  # accepted as a target name: the same as dispatched from a later state


class IllegalTransition(ValueError):
    """A case cannot make this move from its current state.

    Recover by choosing one of ``allowed`` (the message lists them) or by fixing the
    missing detail (a reject reason, the case a duplicate belongs to).
    """

    def __init__(
        self,
        case: str,
        current: str,
        target: str,
        allowed: tuple[CaseState, ...],
        detail: str = "",
    ) -> None:
        self.current = current
        self.target = target
        self.allowed = tuple(str(a) for a in allowed)
        options = ", ".join(self.allowed) or "none (final state)"
        message = detail or f"cannot go from {current} to {target}"
        super().__init__(f"case {case} is {current}: {message}; allowed from {current}: {options}")


@dataclass
class CaseRecord:
    """A case's fields (the columns of ``cases``), changed in memory and written in bulk."""

    origin_key: str
    kind: str
    event_code: str
    camera_id: str
    grid_code: str
    community_code: str
    street_code: str
    grid_path: str
    state: str
    first_seen: float
    last_seen: float
    created_at: float
    updated_at: float
    id: int | None = None
    department: str | None = None
    sightings: int = 0
    max_confidence: float = 0.0
    last_boxes: list[Any] = field(default_factory=list)
    ended_at: float | None = None
    dispatched_at: float | None = None
    deadline: float | None = None
    handled_at: float | None = None
    verify_deadline: float | None = None
    closed_at: float | None = None
    reject_reason: str | None = None
    duplicate_of: int | None = None
    reopen_count: int = 0

    @classmethod
    def new(
        cls,
        origin_key: str,
        *,
        kind: str,
        event_code: str,
        camera_id: str,
        place: tuple[str, str, str, str],
        at: float,
    ) -> CaseRecord:
        """A fresh case in ``pending_review``; ``place`` is (grid, community, street, path)."""
        grid, community, street, path = place
        return cls(
            origin_key=origin_key,
            kind=kind,
            event_code=event_code,
            camera_id=camera_id,
            grid_code=grid,
            community_code=community,
            street_code=street,
            grid_path=path,
            state=S.PENDING_REVIEW,
            first_seen=at,
            last_seen=at,
            created_at=at,
            updated_at=at,
        )

    @classmethod
    def from_row(cls, row: Any) -> CaseRecord:
        """From a ``cases`` row (a Core Row, or an ORM CaseRow)."""
        if hasattr(row, "_asdict"):
            return cls(**row._asdict())
        return cls(**{name: getattr(row, name) for name in CASE_FIELDS})

    def values(self) -> dict[str, Any]:
        """Column values for an INSERT or UPDATE (not a deep copy: ``last_boxes`` is shared)."""
        values = {name: getattr(self, name) for name in CASE_FIELDS}
        values["state"] = str(self.state)
        return values


CASE_FIELDS = tuple(f.name for f in fields(CaseRecord))


@dataclass(frozen=True)
class TransitionRecord:
    """One recorded move; ``case_key`` is the case's origin key (its id may not exist yet)."""

    case_key: str
    at: float
    actor: str
    action: str
    from_state: str | None
    to_state: str
    note: str = ""
    reason: str | None = None

    def values(self, case_id: int) -> dict[str, Any]:
        return {
            "case_id": case_id,
            "at": self.at,
            "actor": self.actor,
            "action": self.action,
            "from_state": self.from_state,
            "to_state": self.to_state,
            "note": self.note,
            "reason": self.reason,
        }


def opened(case: CaseRecord, *, actor: str, note: str) -> TransitionRecord:
    """The record of a case being opened (no previous state)."""
    return TransitionRecord(case.origin_key, case.created_at, actor, "open", None, case.state, note)


def parse_target(target: str) -> CaseState:
    """A state name from the command line or a form; ``reopened`` means dispatched again."""
    if target == REOPENED:
        return S.DISPATCHED
    try:
        return CaseState(target)
    except ValueError:
        names = ", ".join([*CaseState, REOPENED])
        raise ValueError(f"unknown state {target!r}; states are: {names}") from None


def action_of(current: CaseState, target: CaseState) -> str:
    if target is S.DISPATCHED and current in (S.HANDLED, S.VERIFIED, S.CLOSED):
        return "reopen"
    return _ACTIONS[target]


def _check(
    case: CaseRecord,
    target: CaseState,
    reason: str | None,
    duplicate_of: int | None,
) -> None:
    current = CaseState(case.state)
    name = str(case.id if case.id is not None else case.origin_key)
    if target not in ALLOWED[current]:
        raise IllegalTransition(name, current, target, ALLOWED[current])
    if target is S.REJECTED:
        reasons = [str(r) for r in RejectReason]
        if reason not in reasons:
            detail = f"rejecting needs a reason, one of {', '.join(reasons)}"
            raise IllegalTransition(name, current, target, ALLOWED[current], detail)
        if reason == RejectReason.DUPLICATE and (duplicate_of is None or duplicate_of == case.id):
            detail = "a duplicate must name the other case (--duplicate-of ID)"
            raise IllegalTransition(name, current, target, ALLOWED[current], detail)


def apply_transition(
    case: CaseRecord,
    target: CaseState,
    *,
    actor: str,
    at: float,
    types: EventTypes | None,
    note: str = "",
    reason: str | None = None,
    duplicate_of: int | None = None,
) -> TransitionRecord:
    """Move ``case`` to ``target`` (in memory) and return the record of the move.

    Raises :class:`IllegalTransition` when ``target`` is not allowed from the current
    state, or a rejection lacks its reason. ``types`` gives departments and deadlines
    (None: no department and no deadline, used by tests of the bare state machine).
    """
    _check(case, target, reason, duplicate_of)
    current = CaseState(case.state)
    action = action_of(current, target)
    if target is S.REJECTED:
        case.reject_reason = reason
        case.duplicate_of = duplicate_of if reason == RejectReason.DUPLICATE else None
        case.closed_at = at
    elif target is S.DISPATCHED:
        if types is not None:
            case.department = types.department(case.event_code)
            case.deadline = types.handle_deadline(case.event_code, at)
        case.dispatched_at = at
        case.handled_at = case.verify_deadline = case.closed_at = None
        if action == "reopen":
            case.reopen_count += 1
    elif target is S.HANDLED:
        case.handled_at = at
        if types is not None:
            case.verify_deadline = types.verify_deadline(case.event_code, at)
    elif target is S.CLOSED:
        case.closed_at = at
    case.state = target
    case.updated_at = at
    return TransitionRecord(
        case.origin_key, at, actor, action, str(current), str(target), note, reason
    )


def walk(
    case: CaseRecord,
    target: CaseState,
    *,
    actor: str,
    at: float,
    types: EventTypes | None,
    note: str = "",
) -> list[TransitionRecord]:
    """Move ``case`` forward along the main line until it reaches ``target``.

    Used by the system where a fact settles several steps at once (a camera that comes
    back online: its maintenance case is handled, verified and closed).
    """
    records: list[TransitionRecord] = []
    while case.state != target:
        current = CaseState(case.state)
        if current not in MAIN_LINE or MAIN_LINE.index(current) >= MAIN_LINE.index(target):
            raise IllegalTransition(str(case.id), current, target, ALLOWED[current])
        step = MAIN_LINE[MAIN_LINE.index(current) + 1]
        records.append(apply_transition(case, step, actor=actor, at=at, types=types, note=note))
    return records


def is_overdue(case: CaseRecord, now: float) -> bool:
    """Past the deadline of its current stage (handle when dispatched, verify when handled)."""
    if case.state == S.DISPATCHED:
        return case.deadline is not None and now > case.deadline
    if case.state == S.HANDLED:
        return case.verify_deadline is not None and now > case.verify_deadline
    return False


class CaseNotFound(LookupError):
    """No case has this id. Recover by listing cases (`gridwatch cases list`)."""


def transition_case(
    engine: Engine,
    case_id: int,
    target: CaseState,
    *,
    actor: str,
    types: EventTypes,
    note: str = "",
    reason: str | None = None,
    duplicate_of: int | None = None,
    now: float | None = None,
) -> TransitionRecord:
    """Move one stored case (an operator's or a department's action) in one transaction.

    A rejection that teaches (aggregator/suppression.py) records its suppression in the
    same transaction. Raises :class:`CaseNotFound`, or :class:`IllegalTransition`
    (nothing is changed).
    """
    from aggregator.cases import insert_transitions, update_cases
    from aggregator.models import CASES
    from aggregator.suppression import learn

    at = time.time() if now is None else now
    with engine.begin() as conn:
        stmt = select(CASES).where(CASES.c.id == case_id).with_for_update()
        row = conn.execute(stmt).first()
        if row is None:
            raise CaseNotFound(f"no case {case_id}")
        if duplicate_of is not None:
            other = conn.execute(select(CASES.c.id).where(CASES.c.id == duplicate_of)).first()
            if other is None:
                raise CaseNotFound(f"no case {duplicate_of} (named by --duplicate-of)")
        case = CaseRecord.from_row(row)
        record = apply_transition(
            case,
            target,
            actor=actor,
            at=at,
            types=types,
            note=note,
            reason=reason,
            duplicate_of=duplicate_of,
        )
        update_cases(conn, [case])
        insert_transitions(conn, [record], {case.origin_key: case_id})
        if target is S.REJECTED:
            learn(conn, case, reason=reason, actor=actor, at=at)
    return record
