"""Fixtures of the browser tests: a real app on a real port over a prepared SQLite DB.

The database holds the Songjiang grid (1645 units), three cameras with passwords in
their URLs, an operator and an engineer, one pending case made from the real
``dumping`` scene (see tests/web/demo_scene.py) and a few older synthetic cases moved
through the workflow (so the map, board and statistics have something to show).
uvicorn serves ``create_app`` from a thread; Chromium is Debian's /usr/bin/chromium.

Import the fixtures in a test module with ``from tests.web.browser_fixtures import *``.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.web.demo_scene import REPO, demo_events, incoming_events

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
GRID_FILE = REPO / "configs/grid/songjiang.geojson"
OPERATOR = ("op-wang", "operator-pass-1")
ENGINEER = ("eng-li", "engineer-pass-1")
SECRETS = ("Gw-Secret-91", "Hik-Pass-77", "Dahua-Pw-33")
DEMO_CAMERA = "SJ-YY-0001"

__all__ = [
    "ENGINEER",
    "OPERATOR",
    "SECRETS",
    "WebSite",
    "browser",
    "shot",
    "site",
]


@dataclass(frozen=True)
class WebSite:
    """The running app: its URL, database, and the ids the tests look for."""

    url: str
    db_url: str
    demo_case_id: int
    cameras: tuple[str, ...]
    scene_mp4: Path


def _grid_points(count: int) -> list[tuple[float, float, str]]:
    """A point inside each of the first ``count`` grids of different streets."""
    from shapely.geometry import shape

    data = json.loads(GRID_FILE.read_text(encoding="utf-8"))
    seen: set[str] = set()
    out = []
    for feature in data["features"]:
        props = feature["properties"]
        street = props["code"][:9]
        if props["level"] != "grid" or street in seen:
            continue
        seen.add(street)
        point = shape(feature["geometry"]).representative_point()
        out.append((point.x, point.y, props["code"]))
        if len(out) == count:
            break
    return out


def _register_cameras(engine: Any, zones: list[Any]) -> tuple[str, ...]:
    from gridwatch.cli.grid_loading import load_grid_file
    from gridwatch.registry.schema import CameraRecord
    from gridwatch.registry.store import store_grid, upsert_cameras
    from gridwatch.registry.zones import parse_zones

    grid = load_grid_file(GRID_FILE)
    store_grid(engine, grid)
    names = ("人民北路与荣乐路口 东向", "广场南门 北向", "菜场入口 西向")
    ids = (DEMO_CAMERA, "SJ-FS-0002", "SJ-ZS-0003")
    placed = []
    for i, ((lon, lat, code), cam, name, secret) in enumerate(
        zip(_grid_points(3), ids, names, SECRETS, strict=True)
    ):
        url = f"rtsp://admin:{secret}@127.0.0.1:{9 + i}/Streaming/Channels/10"
        record = CameraRecord(
            camera_id=cam,
            name=name,
            main_url=url + "1",
            sub_url=url + "2",
            lon=lon,
            lat=lat,
            zones=tuple(parse_zones(json.dumps(zones))) if cam == DEMO_CAMERA else (),
        )
        placed.append((record, code))
    upsert_cameras(engine, grid, placed)
    return ids


def _add_users(engine: Any) -> None:
    from sqlalchemy.orm import Session

    from aggregator.web.auth import create_user

    with Session(engine) as db:
        create_user(db, OPERATOR[0], "operator", OPERATOR[1])
        create_user(db, ENGINEER[0], "engineer", ENGINEER[1])
        db.commit()


def _camera_health(engine: Any, ids: tuple[str, ...], now: float) -> None:
    from sqlalchemy import insert

    from aggregator.models import CAMERA_STATUS

    states = (
        ("online", None, now - 2),
        ("offline", "timeout", now - 900),
        ("auth_failed", "401", None),
    )
    rows = [
        {
            "camera_id": cam,
            "node_id": "edge-node-01",
            "state": state,
            "reason": reason,
            "last_frame_at": last,
            "last_heartbeat_at": now - 5,
            "since": now - 3600,
        }
        for cam, (state, reason, last) in zip(ids, states, strict=True)
    ]
    with engine.begin() as conn:
        conn.execute(insert(CAMERA_STATUS), rows)


def _history(store: Any, ids: tuple[str, ...], now: float) -> None:
    """Older synthetic cases on the other cameras, moved through the workflow."""
    from sqlalchemy import select

    from aggregator.models import EVENTS
    from aggregator.store import IncomingEvent
    from aggregator.workflow import CaseState, transition_case
    from gridwatch.protocol import Box, EventPayload

    S = CaseState
    plan = [
        (ids[1], "05-01", "street-vending", S.CLOSED),
        (ids[1], "05-05", "illegal-parking", S.DISPATCHED),
        (ids[2], "01-02", "exposed-garbage", S.REJECTED),
        (ids[2], "05-06", "bicycle-pile", S.REGISTERED),
        (ids[1], "01-03", "dumping", S.HANDLED),
        (ids[2], "05-05", "illegal-parking", S.PENDING_REVIEW),  # behind the demo case
    ]
    for i, (cam, code, rule, target) in enumerate(plan):
        t = now - (i + 1) * 86400 * 2.5
        payload = EventPayload(
            event_id=f"{i + 1:032x}",
            incident_id=f"{i + 101:032x}",
            camera_id=cam,
            rule_id=rule,
            event_code=code,
            t_start=t - 30,
            t_event=t,
            confidence=0.3,
            boxes=[Box(cls="person", conf=0.3, xyxy=(0.2, 0.3, 0.4, 0.8))],
            model="yolo26n",
        )
        store.commit_events([IncomingEvent(payload, "edge-node-01", {}, t + 1)])
        with store.engine.connect() as conn:
            case_id = conn.execute(
                select(EVENTS.c.case_id).where(EVENTS.c.event_id == payload.event_id)
            ).scalar_one()
        if target is S.PENDING_REVIEW:
            continue
        steps = [S.REGISTERED, S.DISPATCHED, S.HANDLED, S.VERIFIED, S.CLOSED]
        if target is S.REJECTED:
            transition_case(store.engine, case_id, S.REJECTED, actor="op-zhao", types=store.types,
                            reason="false_positive", now=t + 600)  # fmt: skip
            continue
        for k, step in enumerate(steps[: steps.index(target) + 1]):
            transition_case(store.engine, case_id, step, actor="op-zhao", types=store.types,
                            note="", now=t + 600 * (k + 1))  # fmt: skip


def prepare_database(folder: Path, cache_root: Path) -> tuple[str, int, tuple[str, ...]]:
    """Build the test database; returns its URL, the demo case id and the camera ids.

    The composed scene stays in ``cache_root/<demo camera>/dumping.mp4``.
    """
    from sqlalchemy import select

    from aggregator.config import AggregatorConfig
    from aggregator.event_types import EventTypes
    from aggregator.models import CASES
    from aggregator.store import EventStore
    from gridwatch.db import open_db

    events, zones = demo_events(cache_root, DEMO_CAMERA)
    url = f"sqlite:///{folder / 'web.db'}"
    engine = open_db(url)
    ids = _register_cameras(engine, zones)
    _add_users(engine)
    now = time.time()
    _camera_health(engine, ids, now)
    types = EventTypes.load(REPO / "configs/event_types.yaml")
    store = EventStore(engine, folder / "evidence", AggregatorConfig(), types)
    result = store.commit_events(incoming_events(events, now=now))
    assert result.committed and not result.rejected, result
    with engine.connect() as conn:
        (case_id,) = conn.execute(select(CASES.c.id).where(CASES.c.camera_id == DEMO_CAMERA)).one()
    _history(store, ids, now)
    engine.dispose()
    return url, int(case_id), ids


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def site(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[WebSite]:
    """The app served by uvicorn from a thread on a free port."""
    import uvicorn

    from aggregator.web.app import create_app
    from gridwatch.config import Settings

    folder = tmp_path_factory.mktemp("web")
    cache = getattr(pytestconfig, "cache", None)  # absent with -p no:cacheprovider
    cache_root = (
        Path(cache.mkdir("gridwatch-web-dumping-v1"))
        if cache is not None
        else tmp_path_factory.mktemp("scene-cache")
    )
    db_url, case_id, ids = prepare_database(folder, cache_root)
    app = create_app(Settings(), db_url=db_url, evidence_dir=folder / "evidence")
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    mp4 = cache_root / DEMO_CAMERA / "dumping.mp4"
    yield WebSite(f"http://127.0.0.1:{port}", db_url, case_id, ids, mp4)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the whole session."""
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} missing: install Debian's chromium to run the browser tests")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def shot(page: Any, name: str) -> Path:
    """Save a full-page screenshot as test-artifacts/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
