"""Display names (Chinese, English) of workflow states, reject reasons and roles."""

from __future__ import annotations

from aggregator.web.auth import Role
from aggregator.workflow import CaseState, RejectReason

STATE_NAMES: dict[str, tuple[str, str]] = {
    CaseState.PENDING_REVIEW: ("待审核", "Pending review"),
    CaseState.REGISTERED: ("已立案", "Registered"),
    CaseState.REJECTED: ("不予立案", "Rejected"),
    CaseState.DISPATCHED: ("已派遣", "Dispatched"),
    CaseState.HANDLED: ("已处置", "Handled"),
    CaseState.VERIFIED: ("已核查", "Verified"),
    CaseState.CLOSED: ("已结案", "Closed"),
}

REJECT_REASON_NAMES: dict[str, tuple[str, str]] = {
    RejectReason.FALSE_POSITIVE: ("误报", "False positive"),
    RejectReason.DUPLICATE: ("重复", "Duplicate"),
    RejectReason.NOT_OUR_BUSINESS: ("非本部门职责", "Not our business"),
    RejectReason.NOT_A_PROBLEM_HERE: ("此处不属问题", "Not a problem here"),
    RejectReason.OTHER: ("其他", "Other"),
}

ROLE_NAMES: dict[str, tuple[str, str]] = {
    Role.OPERATOR: ("值班员", "Operator"),
    Role.ENGINEER: ("工程师", "Engineer"),
    Role.ADMIN: ("管理员", "Administrator"),
}
