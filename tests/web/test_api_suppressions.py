"""``/api/suppressions``, the camera page's list and lift, and ``suppressed`` in
``/api/stats`` on real databases; a rejection through the API teaches the camera."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sqlalchemy import select

from aggregator.models import EVENTS
from gridwatch.appearance import signature
from gridwatch.protocol import EventPayload, FramePayload, PixelBox
from tests.aggregator.test_store import MONDAY_10AM, event, incoming
from tests.web.web_helpers import Site, make_site

BOX = (0.3, 0.7, 0.4, 0.9)


def with_frame(payload: EventPayload, look: int) -> EventPayload:
    """``payload`` with a clean frame whose place has the texture ``look`` (a seed)."""
    image = np.random.default_rng(look).integers(0, 255, (360, 640, 3), dtype=np.uint8)
    px = (192, 252, 256, 324)
    frame = FramePayload(
        width=640,
        height=360,
        boxes=[PixelBox(cls="object", conf=0.5, xyxy=px)],
        signature=signature(image, px),
    )
    return payload.model_copy(update={"frame": frame, "evidence": ["frame.jpg"]})


def _commit(site: Site, look: int, t: float) -> str:
    payload = with_frame(event(code="01-03", t=t, boxes=(BOX,)), look)
    site.store.commit_events([incoming(payload, {"frame.jpg": b"\xff\xd8frame"})])
    return payload.event_id


def _case(site: Site, event_id: str) -> int | None:
    with site.engine.connect() as conn:
        return conn.execute(
            select(EVENTS.c.case_id).where(EVENTS.c.event_id == event_id)
        ).scalar_one()


def test_rejection_teaches_listing_lifting_and_stats(db_url: str, tmp_path: Path) -> None:
    site = make_site(db_url, tmp_path)
    first = _commit(site, 1, MONDAY_10AM)
    case_id = _case(site, first)
    operator, engineer = site.client("operator"), site.client("engineer")
    r = operator.post(
        f"/api/cases/{case_id}/transitions",
        json={"state": "rejected", "reason": "false_positive"},
        headers=site.csrf(operator),
    )
    assert r.status_code == 201, r.text
    held = _commit(site, 1, MONDAY_10AM + 3600)  # the same look at the same place
    raised = _commit(site, 2, MONDAY_10AM + 7200)  # another look at the same place
    assert _case(site, held) is None and _case(site, raised) is not None

    (listed,) = operator.get("/api/suppressions", params={"camera_id": "cam-1"}).json()
    assert listed["case_id"] == case_id and listed["active"] and listed["held_back"] == 1
    assert listed["created_by"] == "operator" and listed["reason"] == "false_positive"
    assert operator.get("/api/suppressions", params={"camera_id": "nope"}).status_code == 404

    page = engineer.get("/cameras/cam-1")
    assert (
        f'id="suppression-{listed["id"]}"' in page.text and f'id="lift-{listed["id"]}"' in page.text
    )
    assert 'id="lift-' not in operator.get("/cameras/cam-1").text  # only engineers lift

    stats = operator.get(
        "/api/stats", params={"since": "2026-11-22T00:00:00", "until": "2026-11-25T00:00:00"}
    ).json()
    assert stats["totals"]["suppressed"] == 1
    assert {r["key"]: r["metrics"]["suppressed"] for r in stats["by_rule"]} == {"parking": 1}

    lift = f"/api/suppressions/{listed['id']}/lift"
    assert operator.post(lift, headers=site.csrf(operator)).status_code == 403
    r = engineer.post(lift, headers=site.csrf(engineer))
    assert r.status_code == 200 and not r.json()["active"] and r.json()["lifted_by"] == "engineer"
    again = _commit(site, 1, MONDAY_10AM + 10800)
    assert _case(site, again) is not None
