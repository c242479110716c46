"""The JSON API on real databases: cases, workflow, review queue, cameras, grid, stats.

Every response fetched goes through a hook that fails on the cameras' password.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from aggregator.models import CAMERA_STATUS, CASES, EVENTS, TRANSITIONS
from gridwatch.db import CameraRow, session_scope
from tests.aggregator.test_store import (
    COMMUNITY,
    GRID_A,
    GRID_B,
    MONDAY_10AM,
    STREET,
    event,
    incoming,
)
from tests.web.web_helpers import Site, make_site

ZONE = {"id": "kerb", "purpose": "no_parking", "polygon": [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]}


def _cases(site: Site) -> None:
    site.store.commit_events(
        [
            incoming(event(conf=0.6, evidence=("a.jpg",)), {"a.jpg": b"\xff\xd8a"}),
            incoming(event(camera="cam-3", code="05-04", t=MONDAY_10AM + 60, conf=0.9)),
            incoming(event(camera="cam-2", code="01-02", t=MONDAY_10AM + 120, conf=0.6)),
        ]
    )


def test_cases_list_filters_pages_and_sorts(db_url: str, tmp_path: Path) -> None:
    site = make_site(db_url, tmp_path)
    _cases(site)
    client = site.client("engineer")
    body = client.get("/api/cases").json()
    assert body["total"] == 3 and [c["case_id"] for c in body["items"]] == [3, 2, 1]
    first = body["items"][2]
    assert first["event_name"] == {"zh": "机动车乱停放", "en": first["event_name"]["en"]}
    assert first["state_name"] == {"zh": "待审核", "en": "Pending review"}
    assert first["thumbnail_url"].startswith("/evidence/2026/11/23/")
    assert first["camera_ids"] == ["cam-1"] and first["grid_code"] == GRID_A

    def ids(**params: object) -> list[int]:
        r = client.get("/api/cases", params=params)
        assert r.status_code == 200, r.text
        return [c["case_id"] for c in r.json()["items"]]

    assert ids(sort="id") == [1, 2, 3]
    assert ids(sort="-max_confidence") == [2, 3, 1]
    assert ids(sort="id", limit=1, offset=1) == [2]
    assert ids(event_code="05-04") == [2]
    assert ids(grid=GRID_B) == [2] and ids(grid="网格02") == [2]
    assert ids(street=STREET, sort="id") == [1, 2, 3] and ids(community=COMMUNITY, limit=1) == [3]
    assert ids(camera="cam-2") == [3]
    assert ids(state="registered") == [] and ids(overdue=True) == []
    assert ids(since="2026-11-23T10:00:30+08:00", until="2026-11-23T10:01:30+08:00") == [2]
    assert client.get("/api/cases", params={"state": "bogus"}).status_code == 422
    assert client.get("/api/cases", params={"sort": "password"}).status_code == 422
    assert client.get("/api/cases/99").status_code == 404


def test_case_detail_and_transitions_enforce_the_workflow(db_url: str, tmp_path: Path) -> None:
    site = make_site(db_url, tmp_path)
    _cases(site)
    operator = site.client("operator")
    csrf = site.csrf(operator)
    detail = operator.get("/api/cases/1").json()
    assert detail["allowed_next"] == ["registered", "rejected"]
    assert detail["events_total"] == 1 and detail["events"][0]["evidence_urls"][0].endswith("a.jpg")
    assert [s["action"] for s in detail["timeline"]] == ["open"]
    assert (detail["lat"], detail["lon"]) == (31.0, 121.2)
    assert site.client("engineer").get("/api/cases/1").json()["allowed_next"] == []

    def move(case: int, **body: object) -> tuple[int, Any]:
        r = operator.post(f"/api/cases/{case}/transitions", json=body, headers=csrf)
        return r.status_code, r.json()

    status, body = move(1, state="dispatched")
    assert status == 409 and "cannot go from pending_review to dispatched" in body["detail"]
    assert "allowed from pending_review: registered, rejected" in body["detail"]
    status, body = move(1, state="rejected")
    assert status == 409 and "reason" in body["detail"]
    assert move(1, state="flying")[0] == 422
    assert move(1, state="registered", extra="x")[0] == 422
    assert move(99, state="registered")[0] == 404
    status, body = move(1, state="registered", note="真实")
    assert status == 201 and body["transition"]["action"] == "register"
    status, body = move(1, state="dispatched")
    assert status == 201 and body["case"]["department"] and body["case"]["deadline"]
    assert body["case"]["allowed_next"] == ["handled"]
    assert move(1, state="handled")[0] == 201 and move(1, state="verified")[0] == 201
    assert move(1, state="closed")[0] == 201
    status, body = move(1, state="reopened", note="又出现了")
    assert status == 201 and body["transition"]["action"] == "reopen"
    assert body["case"]["reopen_count"] == 1
    status, body = move(2, state="rejected", reason="duplicate", duplicate_of=99)
    assert status == 409 and "no case 99" in body["detail"]
    status, body = move(2, state="rejected", reason="duplicate", duplicate_of=1)
    assert status == 201 and body["case"]["duplicate_of"] == 1
    assert move(2, state="registered")[0] == 409  # rejected is final
    timeline = operator.get("/api/cases/1").json()["timeline"]
    assert [s["to_state"] for s in timeline][-2:] == ["closed", "dispatched"]
    assert timeline[1]["actor"] == "operator" and timeline[1]["note"] == "真实"


def test_review_queue_is_most_confident_then_newest(db_url: str, tmp_path: Path) -> None:
    site = make_site(db_url, tmp_path)
    _cases(site)
    client = site.client("operator")
    body = client.get("/api/review-queue").json()
    assert [c["case_id"] for c in body["items"]] == [2, 3, 1] and body["total"] == 3
    client.post("/api/cases/2/transitions", json={"state": "registered"}, headers=site.csrf(client))
    assert [c["case_id"] for c in client.get("/api/review-queue").json()["items"]] == [3, 1]
    assert client.get("/api/review-queue", params={"camera": "cam-1"}).json()["total"] == 1


def test_review_page_and_api_queue_in_one_order(db_url: str, tmp_path: Path) -> None:
    """Equal confidence: the case seen most recently comes first on the page and in the
    API alike, even when it was opened earlier."""
    site = make_site(db_url, tmp_path)
    with session_scope(site.engine) as db:
        _stats_case(db, 1, street=STREET, code="05-05", camera="cam-1", state="pending_review",
                    last_seen=MONDAY_10AM + 5 * H)  # opened first, seen again just now  # fmt: skip
        _stats_case(db, 2, street=STREET, code="05-05", camera="cam-2", state="pending_review")
    client = site.client("operator")
    api = [c["case_id"] for c in client.get("/api/review-queue").json()["items"]]
    page = [
        int(n)
        for n in re.findall(r'<li class="[^"]*" data-case="(\d+)"', client.get("/review").text)
    ]
    assert api == page == [1, 2]


def test_cameras_health_masking_and_zone_edits(db_url: str, tmp_path: Path) -> None:
    site = make_site(db_url, tmp_path)
    _cases(site)
    with session_scope(site.engine) as db:
        db.execute(
            insert(CAMERA_STATUS).values(
                camera_id="cam-2", node_id="node-0", state="offline",
                reason="rtsp://admin:hunter2@127.0.0.1:9/2 timed out", last_frame_at=MONDAY_10AM,
                last_heartbeat_at=MONDAY_10AM + 5, since=MONDAY_10AM, maintenance_case_id=None,
            )
        )  # fmt: skip
    client = site.client("engineer")
    body = client.get("/api/cameras").json()
    assert body["total"] == 3
    cam1, cam2, _ = body["items"]
    assert cam1["main_url"] == "rtsp://admin:***@127.0.0.1:9/1" and cam1["health"] is None
    assert cam1["open_cases"] == 1
    assert cam2["health"]["state"] == "offline" and "***" in cam2["health"]["reason"]
    ids = lambda **p: [c["camera_id"] for c in client.get("/api/cameras", params=p).json()["items"]]  # noqa: E731
    assert ids(health="offline") == ["cam-2"] and ids(health="unknown") == ["cam-1", "cam-3"]
    assert ids(search="cam-3") == ["cam-3"] and ids(grid=GRID_B) == ["cam-3"]
    assert ids(limit=1, offset=1) == ["cam-2"]
    assert client.get("/api/cameras/cam-404").status_code == 404

    before = client.get("/api/cameras/cam-1").json()["updated_at"]
    csrf = site.csrf(client)
    r = client.patch("/api/cameras/cam-1", json={"zones": [ZONE], "enabled": False}, headers=csrf)
    assert r.status_code == 200, r.text
    assert r.json()["zones"] == [ZONE] and r.json()["enabled"] is False
    assert r.json()["updated_at"] > before
    bad = {**ZONE, "polygon": [[0, 0], [1, 1], [1, 0], [0, 1]]}  # self-intersecting
    r = client.patch("/api/cameras/cam-1", json={"zones": [bad]}, headers=csrf)
    assert r.status_code == 422 and "invalid zones" in r.json()["detail"]
    assert (
        client.patch("/api/cameras/cam-1", json={"main_url": "x"}, headers=csrf).status_code == 422
    )
    with session_scope(site.engine) as db:
        row = db.get(CameraRow, "cam-1")
        assert row is not None and row.zones == [ZONE] and not row.enabled
        assert row.main_url == "rtsp://admin:hunter2@127.0.0.1:9/1"  # untouched, only masked out


def test_grid_geojson_counts_open_cases(db_url: str, tmp_path: Path) -> None:
    site = make_site(db_url, tmp_path)
    _cases(site)
    client = site.client("operator")
    client.post(
        "/api/cases/2/transitions",
        json={"state": "rejected", "reason": "false_positive"},
        headers=site.csrf(client),
    )
    grids = client.get("/api/grid").json()
    assert grids["type"] == "FeatureCollection"
    counts = {f["id"]: f["properties"]["open_cases"] for f in grids["features"]}
    assert counts == {GRID_A: 2, GRID_B: 0}
    streets = client.get("/api/grid", params={"level": "street"}).json()["features"]
    assert [(f["id"], f["properties"]["open_cases"]) for f in streets] == [(STREET, 2)]
    named = client.get("/api/grid", params={"street": "岳阳街道"}).json()["features"]
    assert (
        len(named) == 2 and client.get("/api/grid", params={"street": "9"}).json()["features"] == []
    )


def test_event_types_and_states_in_both_languages(sqlite_url: str, tmp_path: Path) -> None:
    client = make_site(sqlite_url, tmp_path).client("operator")
    types = {t["code"]: t for t in client.get("/api/event-types").json()}
    assert types["05-05"]["name"]["zh"] == "机动车乱停放" and types["05-05"]["name"]["en"]
    states = {s["state"]: s for s in client.get("/api/states").json()}
    assert states["closed"]["name"] == {"zh": "已结案", "en": "Closed"}
    assert states["closed"]["allowed_next"] == ["dispatched"]


# --------------------------------------------------------------------------- stats

H = 3600.0


def _stats_case(
    db: Session,
    n: int,
    *,
    street: str,
    code: str,
    camera: str,
    state: str,
    **kw: float | str | None,
) -> None:
    created = MONDAY_10AM + n
    values = dict(
        id=n, origin_key=f"ev{n}", kind="event", event_code=code, camera_id=camera,
        grid_code=GRID_A, community_code=COMMUNITY, street_code=street, grid_path="p",
        state=state, first_seen=created, last_seen=created, sightings=1, max_confidence=0.5,
        last_boxes=[], created_at=created, updated_at=created, reopen_count=0,
    )  # fmt: skip
    values.update(kw)
    db.execute(insert(CASES).values(**values))
    db.execute(
        insert(EVENTS).values(
            event_id=f"ev{n}", incident_id=f"i{n}", phase="start", case_id=n, camera_id=camera,
            node_id="node-0", rule_id=f"rule-{code}", event_code=code, grid_code=GRID_A,
            t_start=created, t_event=created, received_at=created, confidence=0.5, boxes=[],
            zone_id=None, model="m", evidence=[],
        )
    )  # fmt: skip


def test_stats_on_a_hand_made_dataset(db_url: str, tmp_path: Path) -> None:
    site = make_site(db_url, tmp_path)
    other = "310117002"
    with session_scope(site.engine) as db:
        # street A, 05-05, cam-1: one closed on time, one closed late, one dispatched,
        # one rejected as a false positive, one still pending.
        _stats_case(db, 1, street=STREET, code="05-05", camera="cam-1", state="closed",
                    deadline=MONDAY_10AM + 10 * H, handled_at=MONDAY_10AM + 5 * H)  # fmt: skip
        _stats_case(db, 2, street=STREET, code="05-05", camera="cam-1", state="closed",
                    deadline=MONDAY_10AM + 10 * H, handled_at=MONDAY_10AM + 11 * H)  # fmt: skip
        _stats_case(db, 3, street=STREET, code="05-05", camera="cam-1", state="dispatched")
        _stats_case(db, 4, street=STREET, code="05-05", camera="cam-1", state="rejected",
                    reject_reason="false_positive")  # fmt: skip
        _stats_case(db, 5, street=STREET, code="05-05", camera="cam-1", state="pending_review")
        # street B, 01-02, cam-3: one rejected as a duplicate, one registered.
        _stats_case(db, 6, street=other, code="01-02", camera="cam-3", state="rejected",
                    reject_reason="duplicate", duplicate_of=1)  # fmt: skip
        _stats_case(db, 7, street=other, code="01-02", camera="cam-3", state="registered")
        # Outside the window: never counted.
        _stats_case(db, 8, street=STREET, code="05-05", camera="cam-1", state="closed",
                    created_at=MONDAY_10AM - 40 * 86400)  # fmt: skip
        for case_id, wait in ((1, 60), (2, 180), (3, 120), (4, 30), (6, 600), (7, 300)):
            db.execute(
                insert(TRANSITIONS).values(
                    case_id=case_id, at=MONDAY_10AM + case_id + wait, actor="op",
                    action="register", from_state="pending_review", to_state="registered",
                    note="", reason=None,
                )
            )  # fmt: skip
        assert db.scalar(select(CASES.c.id).where(CASES.c.id == 8)) == 8
    client = site.client("operator")
    params = {"since": "2026-11-01T00:00:00+08:00", "until": "2026-12-01T00:00:00+08:00"}
    body = client.get("/api/stats", params=params).json()
    total = body["totals"]
    assert (total["opened"], total["registered"], total["closed"], total["on_time_closed"]) == (
        7, 4, 2, 1,
    )  # fmt: skip
    assert total["closure_rate"] == 0.5 and total["on_time_closure_rate"] == 0.25
    assert (total["reviewed"], total["false_positives"]) == (6, 1)
    assert abs(total["false_positive_rate"] - 1 / 6) < 1e-6
    assert total["median_review_s"] == 150.0  # median of 30, 60, 120, 180, 300, 600

    by_street = {s["key"]: s for s in body["by_street"]}
    a, b = by_street[STREET]["metrics"], by_street[other]["metrics"]
    assert by_street[STREET]["name"]["zh"] == "岳阳街道"
    assert (a["opened"], a["registered"], a["closed"], a["closure_rate"]) == (5, 3, 2, 0.666667)
    assert a["false_positive_rate"] == 0.25 and a["median_review_s"] == 90.0
    assert (b["opened"], b["registered"], b["closed"], b["closure_rate"]) == (2, 1, 0, 0.0)
    assert b["false_positive_rate"] == 0.0
    by_rule = {r["key"]: r["metrics"] for r in body["by_rule"]}
    assert by_rule["rule-05-05"]["false_positive_rate"] == 0.25
    by_camera = {r["key"]: r["metrics"] for r in body["by_camera"]}
    assert by_camera["cam-3"]["false_positives"] == 0 and by_camera["cam-1"]["reviewed"] == 4
    by_type = {t["key"]: t for t in body["by_event_type"]}
    assert (
        by_type["01-02"]["name"]["zh"] == "暴露垃圾" and by_type["05-05"]["metrics"]["opened"] == 5
    )
    (day,) = body["over_time"]
    assert day["period"] == "2026-11-23" and day["totals"]["opened"] == 7
    assert day["by_street"][other]["opened"] == 2
    week = client.get("/api/stats", params={**params, "bucket": "week"}).json()["over_time"]
    assert [p["period"] for p in week] == ["2026-11-23"]
    only_b = client.get("/api/stats", params={**params, "street": other}).json()["totals"]
    assert only_b["opened"] == 2


def _card(html: str, stat: str) -> str:
    match = re.search(rf'data-stat="{stat}"><div class="v">([^<]*)</div>', html)
    assert match, f"no card {stat} on the page"
    return match.group(1).strip()


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def test_stats_page_and_api_agree_on_awkward_data(db_url: str, tmp_path: Path) -> None:
    """One engine: the cards of /stats and /api/stats give the same figures, also for a
    closed case without a deadline (not on time), a maintenance case (not a street
    problem, left out of both unless asked for) and a street with nothing to rate."""
    site = make_site(db_url, tmp_path)
    other = "310117002"
    with session_scope(site.engine) as db:
        _stats_case(db, 1, street=STREET, code="05-05", camera="cam-1", state="closed",
                    handled_at=MONDAY_10AM + H)  # no deadline: not "on time"  # fmt: skip
        _stats_case(db, 2, street=STREET, code="05-05", camera="cam-1", state="closed",
                    deadline=MONDAY_10AM + 10 * H, handled_at=MONDAY_10AM + 5 * H)  # fmt: skip
        _stats_case(db, 3, street=STREET, code="05-05", camera="cam-2", state="rejected",
                    reject_reason="false_positive")  # fmt: skip
        _stats_case(db, 4, street=other, code="01-02", camera="cam-3", state="pending_review")
        _stats_case(db, 5, street=STREET, code="05-05", camera="cam-1", state="closed",
                    kind="maintenance", deadline=MONDAY_10AM + H,
                    handled_at=MONDAY_10AM + 1)  # fmt: skip
    site.app.state.web.clock = lambda: MONDAY_10AM + 2 * H
    client = site.client("operator")
    api = client.get("/api/stats").json()
    total = api["totals"]
    assert (total["opened"], total["registered"], total["closed"], total["on_time_closed"]) == (
        4, 2, 2, 1,
    )  # fmt: skip
    assert total["on_time_closure_rate"] == 0.5 and total["closure_rate"] == 1.0
    assert api["kind"] == "event"
    by_street = {s["key"]: s["metrics"] for s in api["by_street"]}
    assert by_street[other]["closure_rate"] is None  # nothing registered there: no rate
    page = client.get("/stats", params={"days": 30}).text
    assert _card(page, "opened") == str(total["opened"])
    for stat in ("closure_rate", "on_time_closure_rate", "false_positive_rate"):
        assert _card(page, stat) == _pct(total[stat]), stat
    everything = client.get("/api/stats", params={"kind": "all"}).json()["totals"]
    assert everything["opened"] == 5 and everything["on_time_closed"] == 2
    small = client.get("/api/stats", params={"limit": 1}).json()
    assert [c["key"] for c in small["by_camera"]] == ["cam-1"] and small["cameras_total"] == 3


def test_aggregator_serves_the_web_app_from_its_process(sqlite_url: str, tmp_path: Path) -> None:
    import socket
    import time

    import httpx

    from aggregator.config import AggregatorConfig
    from aggregator.service import AggregatorService

    make_site(sqlite_url, tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    service = AggregatorService(
        AggregatorConfig(), db_url=sqlite_url, evidence_dir=tmp_path / "ev", web_port=port
    )
    service._start_web()
    try:
        for _ in range(100):
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/cases")
                break
            except httpx.ConnectError:
                time.sleep(0.05)
        assert r.status_code == 401
    finally:
        service._stop_web()
    assert service._web_thread is not None and not service._web_thread.is_alive()
    assert service.first_error is None


def test_no_page_or_api_response_shows_a_camera_password(db_url: str, tmp_path: Path) -> None:
    """Fetch every GET route of the app (pages included) as admin; the hook greps each."""
    from collections import defaultdict

    from fastapi.routing import APIRoute

    def routes(items: list[Any]) -> list[APIRoute]:  # FastAPI 0.165 nests included routers
        found: list[APIRoute] = []
        for item in items:
            if isinstance(item, APIRoute):
                found.append(item)
            elif hasattr(item, "original_router"):
                found += routes(item.original_router.routes)
        return found

    site = make_site(db_url, tmp_path)
    _cases(site)
    client = site.client("admin")
    values = {"camera_id": "cam-1", "case_id": "1", "request_id": "1", "path": "x", "code": GRID_A}
    paths = sorted(
        route.path.replace(":path}", "}").format_map(defaultdict(lambda: "1", values))
        for route in routes(site.app.routes)
        if "GET" in (route.methods or set())
    )
    assert "/api/cameras/cam-1" in paths and len(paths) > 15
    for path in paths:
        for accept in ("text/html", "application/json"):
            r = client.get(path, headers={"Accept": accept})
            assert r.status_code < 500, path
    assert len(site.fetched) >= 2 * len(paths)
