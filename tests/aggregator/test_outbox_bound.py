"""A bounded outbox end to end: an agent whose aggregator is away drops clips (then
images), never an event; once the aggregator is back every event arrives with what it
kept, and the heartbeat's counts reach the camera page. Real sockets, real store, real
database (SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from aggregator.models import CAMERA_STATUS, EDGE_NODES, EVENTS
from aggregator.web.app import create_app
from aggregator.web.auth import create_user
from edge_agent.outbox import Outbox
from edge_agent.publisher import Publisher
from gridwatch.config import Settings
from gridwatch.db import make_engine, session_scope
from gridwatch.protocol import CameraState, CameraStatus
from tests.aggregator.delivery_helpers import (
    RealServiceThread,
    delivery,
    import_cameras,
    loopback,
    make_event,
    stored_event_ids,
    wait_for,
)
from tests.aggregator.test_store import event_types

CLIP, SNAP = 100_000, 20_000


def test_an_agent_away_from_its_aggregator_keeps_every_event_within_its_bound(
    db_url: str, tmp_path: Path
) -> None:
    cams = import_cameras(db_url, tmp_path)
    camera = cams[0]
    endpoint = loopback()
    status = [CameraStatus(camera_id=camera, state=CameraState.ONLINE, since=time.time())]
    config = delivery(endpoint, outbox_max_bytes=2**20, resend_after_s=0.5)
    outbox = Outbox.for_node(config, tmp_path, "node-1")
    pub = Publisher("node-1", config, outbox, camera_status=lambda: status)
    events = [make_event(camera, evidence=["snapshot.jpg", "clip.mp4"]) for _ in range(30)]
    for ev in events:  # 30 × 120 kB offered to a 1 MiB outbox, nobody listening
        pub.submit(ev, {"snapshot.jpg": b"\xff" * SNAP, "clip.mp4": b"\x00" * CLIP})
    usage = outbox.usage()
    assert usage.events == 30 and usage.bytes <= 2**20
    dropped_clips = usage.dropped_total("clip")
    assert dropped_clips >= 20
    pub.start()
    with RealServiceThread(db_url, tmp_path, bind=endpoint):
        assert wait_for(lambda: outbox.count() == 0, timeout=30)

        def node_seen() -> bool:
            engine = make_engine(db_url)
            try:
                with engine.connect() as conn:
                    return conn.execute(select(EDGE_NODES.c.dropped_clips)).first() is not None
            finally:
                engine.dispose()

        assert wait_for(node_seen, timeout=10)
        pub.stop()
    assert sorted(stored_event_ids(db_url)) == sorted(e.event_id for e in events)
    engine = make_engine(db_url)
    with engine.connect() as conn:
        stored = {r.event_id: r for r in conn.execute(select(EVENTS))}
        node = conn.execute(select(EDGE_NODES)).one()
        cam = conn.execute(select(CAMERA_STATUS).where(CAMERA_STATUS.c.camera_id == camera)).one()
    # the oldest arrived without their clips, the newest with; every one with its image
    names = [[Path(p).name for p in stored[e.event_id].evidence] for e in events]
    assert names[0] == ["snapshot.jpg"] and names[-1] == ["snapshot.jpg", "clip.mp4"]
    assert sum("clip.mp4" not in n for n in names) == dropped_clips
    assert (node.dropped_clips, node.outbox_max_bytes) == (dropped_clips, 2**20)
    assert (cam.dropped_clips, cam.dropped_images) == (dropped_clips, 0)

    # the camera page shows it
    with session_scope(engine) as db:
        create_user(db, "eng", "engineer", "correct horse battery")
    app = create_app(
        Settings(), db_url=db_url, evidence_dir=tmp_path / "evidence", event_types=event_types()
    )
    client = TestClient(app)
    r = client.post("/login", data={"username": "eng", "password": "correct horse battery"})
    assert r.status_code in (200, 303)
    page = client.get(f"/cameras/{camera}?lang=en").text
    assert 'id="dropped"' in page
    assert f"clips {dropped_clips}, images 0" in page and "node-1" in page
    engine.dispose()
