"""Camera health on real databases: maintenance cases open after silence or failure, and
close by themselves when the camera is back."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from aggregator.models import CameraStatusRow, CaseRow, TransitionRow
from gridwatch.db import session_scope
from gridwatch.protocol import CameraState, CameraStatus, HeartbeatPayload
from tests.aggregator.test_store import MONDAY_10AM, cases_of, make_registry, make_store

T0 = MONDAY_10AM
AFTER = 900.0  # HealthConfig.offline_case_after_s default


def beat(**states: CameraState) -> HeartbeatPayload:
    cams = [
        CameraStatus(
            camera_id=cam.replace("_", "-"), state=st, reason="rtsp://admin:pw@h/1 refused"
        )
        for cam, st in states.items()
    ]
    return HeartbeatPayload(node_id="node-0", sent_at=T0, cameras=cams)


@pytest.mark.parametrize("failure", ["silent", "offline", "auth_failed"])
def test_maintenance_case_opens_and_closes(db_url: str, tmp_path: Path, failure: str) -> None:
    engine = make_registry(db_url)
    store = make_store(engine, tmp_path)
    store.record_heartbeat("node-0", beat(cam_1=CameraState.ONLINE, cam_2=CameraState.ONLINE), T0)
    if failure == "silent":  # cam-1 is never mentioned again; cam-2 keeps reporting
        later = beat(cam_2=CameraState.ONLINE)
    else:
        later = beat(cam_1=CameraState(failure), cam_2=CameraState.ONLINE)
    store.record_heartbeat("node-0", later, T0 + 10)
    for t in (T0 + 20, T0 + 30 + AFTER, T0 + 60 + AFTER):
        store.record_heartbeat("node-0", beat(cam_2=CameraState.ONLINE), t)
        store.periodic(t)
        if t < T0 + AFTER:
            assert cases_of(engine) == []
    (case,) = cases_of(engine)  # opened once, not once per check
    assert (case.kind, case.event_code, case.camera_id) == ("maintenance", "BJ01-22", "cam-1")
    assert (case.state, case.department, case.grid_code) == (
        "dispatched",
        "公安视频运维",
        case.grid_code,
    )
    assert case.deadline is not None
    with session_scope(engine) as s:
        status = s.get(CameraStatusRow, "cam-1")
        assert status is not None and status.maintenance_case_id == case.id
        assert status.reason is None or "pw" not in status.reason

    store.record_heartbeat(
        "node-0", beat(cam_1=CameraState.ONLINE, cam_2=CameraState.ONLINE), T0 + 2000
    )
    (case,) = cases_of(engine)
    assert case.state == "closed"
    with session_scope(engine) as s:
        steps = s.scalars(
            select(TransitionRow).where(TransitionRow.case_id == case.id).order_by(TransitionRow.id)
        ).all()
        assert s.get(CameraStatusRow, "cam-1").maintenance_case_id is None  # type: ignore[union-attr]
    assert [x.to_state for x in steps] == [
        "pending_review", "registered", "dispatched", "handled", "verified", "closed",
    ]  # fmt: skip
    assert {x.actor for x in steps} == {"system"} and "back online" in steps[-1].note
    store.periodic(T0 + 2010)
    assert len(cases_of(engine)) == 1
    gauges = store.gauges()
    assert gauges["cameras_by_state"]["online"] == 2.0
    assert gauges["cases_by_state"]["closed"] == 1.0


def test_unregistered_camera_gets_status_but_no_case(sqlite_url: str, tmp_path: Path) -> None:
    engine = make_registry(sqlite_url)
    store = make_store(engine, tmp_path)
    store.record_heartbeat("node-0", beat(ghost=CameraState.OFFLINE), T0)
    store.periodic(T0 + 2 * AFTER)
    with session_scope(engine) as s:
        assert s.get(CameraStatusRow, "ghost") is not None
        assert s.scalars(select(CaseRow)).all() == []
