"""Aggregator store throughput: events/s through ``EventStore.commit_events`` on SQLite.

A fresh SQLite database holds a registry of ``cameras`` cameras; ``events`` events of
``events / 10`` incidents (four places per camera, each incident seen ten times over the
whole run, then ended) go through the store in batches of ``batch``, as the receiver would
hand them over. All incidents are live at once, so every batch meets cases of most
cameras: the steady state of a busy city. Only the commits are timed, not building the
payloads.

    python -m benchmarks.store_throughput --events 20000 --batch 500 --cameras 500
"""

from __future__ import annotations

import argparse
import gc
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from aggregator.config import AggregatorConfig
from aggregator.event_types import EventTypes
from aggregator.models import CASES, EVENTS
from aggregator.store import EventStore, IncomingEvent
from benchmarks.common import print_table, write_json
from gridwatch.db import CameraRow, GridUnitRow, open_db
from gridwatch.protocol import Box, EventPayload, EventPhase

REPO = Path(__file__).resolve().parent.parent
T0 = 1_795_000_000.0  # a fixed start time: runs are comparable
CODES = ("05-05", "01-02")
SIGHTINGS = 10  # events per incident (the last one is its END)


def _registry(url: str, cameras: int) -> Any:
    engine = open_db(url)
    district, street, community = "310117", "310117001", "310117001001"
    grids = [f"{community}{i:02d}" for i in range(1, 51)]
    units: list[dict[str, Any]] = [
        {"code": district, "name": "松江区", "level": "district", "parent_code": None},
        {"code": street, "name": "岳阳街道", "level": "street", "parent_code": district},
        {"code": community, "name": "白云居委会", "level": "community", "parent_code": street},
        *({"code": g, "name": g[-2:], "level": "grid", "parent_code": community} for g in grids),
    ]
    cams = [
        {
            "camera_id": f"cam-{i:06d}",
            "name": f"camera {i}",
            "main_url": "rtsp://admin:pw@10.0.0.1/1",
            "sub_url": "rtsp://admin:pw@10.0.0.1/2",
            "lon": 121.2,
            "lat": 31.0,
            "enabled": True,
            "analysis_interval_s": 2.0,
            "zones": [],
            "tags": [],
            "grid_code": grids[i % len(grids)],
            "community_code": community,
            "street_code": street,
            "grid_path": f"松江区 › 岳阳街道 › 白云居委会 › {grids[i % len(grids)][-2:]}",
            "fingerprint": "0" * 32,
        }
        for i in range(cameras)
    ]
    with engine.begin() as conn:
        conn.execute(
            insert(GridUnitRow),
            [{**u, "kind": None, "path": u["name"], "geometry": {}} for u in units],
        )
        conn.execute(insert(CameraRow), cams)
    return engine


def _events(count: int, cameras: int, seed: int = 7) -> list[IncomingEvent]:
    """``count`` events in time order: incidents of ten sightings, all live at once."""
    rng = random.Random(seed)
    out: list[IncomingEvent] = []
    incidents = max(1, count // SIGHTINGS)
    for k in range(incidents):
        cam = f"cam-{k % cameras:06d}"
        slot = (k // cameras) % 4  # four places per camera: four cases side by side
        x = 0.05 + 0.22 * slot
        box = (x, 0.3, x + 0.15, 0.5)
        incident = f"{rng.getrandbits(128):032x}"
        span = count / 10  # seconds of events: ten a second over the whole city
        gap = span / SIGHTINGS
        start = T0 + rng.uniform(0, gap)
        for j in range(SIGHTINGS):
            t = start + gap * j
            payload = EventPayload(
                event_id=f"{rng.getrandbits(128):032x}",
                incident_id=incident,
                phase=EventPhase.END if j == SIGHTINGS - 1 else EventPhase.START,
                camera_id=cam,
                rule_id="parking",
                event_code=CODES[k % 2],
                t_start=start,
                t_event=t,
                confidence=round(rng.uniform(0.5, 0.99), 3),
                boxes=[Box(cls="car", conf=0.8, xyxy=box)],
                model="yolo11n",
            )
            out.append(IncomingEvent(payload, f"node-{k % 8}", {}, t + 0.5))
    out.sort(key=lambda e: e.received_at)
    return out[:count]


def run(events: int = 20_000, batch: int = 500, cameras: int = 500) -> dict[str, Any]:
    """Commit ``events`` events in batches of ``batch``; returns events/s and counts."""
    payloads = _events(events, cameras)
    with tempfile.TemporaryDirectory(prefix="gw-store-") as tmp:
        engine = _registry(f"sqlite:///{Path(tmp) / 'gridwatch.db'}", cameras)
        types = EventTypes.load(REPO / "configs/event_types.yaml")
        store = EventStore(engine, Path(tmp) / "evidence", AggregatorConfig(), types)
        store.cameras.refresh()  # the receiver's start-up: not part of the rate
        committed = 0
        # The receiver holds one batch at a time; the benchmark holds all of them up front.
        # Freezing them keeps the garbage collector from walking 20,000 payloads the
        # store never sees, over and over (a fifth of the time otherwise).
        gc.collect()
        gc.freeze()
        try:
            start = time.perf_counter()
            for i in range(0, len(payloads), batch):
                committed += len(store.commit_events(payloads[i : i + batch]).committed)
            seconds = time.perf_counter() - start
        finally:
            gc.unfreeze()
        with engine.connect() as conn:
            stored = len(conn.execute(select(EVENTS.c.event_id)).all())
            cases = len(conn.execute(select(CASES.c.id)).all())
        engine.dispose()
    return {
        "events": len(payloads),
        "batch": batch,
        "cameras": cameras,
        "committed": committed,
        "stored": stored,
        "cases": cases,
        "seconds": seconds,
        "events_per_s": len(payloads) / seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--cameras", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best is reported")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args()
    results = [run(args.events, args.batch, args.cameras) for _ in range(args.repeat)]
    best = max(results, key=lambda r: r["events_per_s"])
    best["runs_events_per_s"] = [round(r["events_per_s"]) for r in results]
    print_table(
        f"store: {args.events} events, batches of {args.batch}, {args.cameras} cameras (SQLite)",
        ["run", "seconds", "events/s", "cases"],
        [
            [i + 1, f"{r['seconds']:.2f}", f"{r['events_per_s']:,.0f}", r["cases"]]
            for i, r in enumerate(results)
        ],
    )
    write_json(args.json, "store_throughput", best)


if __name__ == "__main__":
    main()
