"""The whole pipeline on real parts: scenes served as live RTSP cameras, an edge agent
process with the real YOLO weights, an aggregator process, real ZeroMQ sockets, SQLite.

One long test walks through what the edge-agent and aggregator issues ask:
- events produced while no aggregator listens wait in the agent's outbox and are
  delivered once it starts;
- each positive scene becomes exactly one case, with the right code, in the grid that owns
  its camera, with its evidence on disk; the negative scenes make none;
- the scenes loop, so each incident ends and is seen again: repeated sightings join
  the same case instead of opening new ones;
- heartbeats carry camera health: killing the RTSP server marks the cameras offline,
  and they come back by themselves when it returns;
- both processes stop cleanly on SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gridwatch.cli import cli
from gridwatch.grid.model import GridIndex
from gridwatch.registry.csvfile import write_registry
from gridwatch.registry.schema import CameraRecord
from gridwatch.registry.zones import Zone, ZonePurpose
from gridwatch.scenes.server import RtspServer

pytestmark = [pytest.mark.rtsp, pytest.mark.yolo]

# Short dwells for 30-45 s looping scenes; an incident ends once its place has looked
# empty for 5 s (each loop leaves it empty for about 7 s before the object comes back).
RULES = """
rules:
  - {id: dumping, kind: left_object, event_code: "01-03", zones: [no_dumping],
     classes: [bag, object, furniture], dwell_s: 6, end_after_s: 5}
  - {id: street-vending, kind: vending, event_code: "05-01", zones: [no_vending],
     classes: [person], props: [umbrella, table, chair, cart], dwell_s: 6, end_after_s: 5,
     near: 0.5}
  - {id: illegal-parking, kind: dwell, event_code: "05-05", zones: [no_parking],
     classes: [car, truck, bus], dwell_s: 6, end_after_s: 5, min_confidence: 0.35}
"""
EXPECTED = {"dumping": "01-03", "vending": "05-01", "parking": "05-05"}
PURPOSE = {"dumping": ["no_dumping"], "vending": ["no_vending"], "parking": ["no_parking"]}
NEGATIVE_PURPOSES = ["no_dumping", "no_vending", "no_parking"]
PASSWORD = "Cam-Secret-9"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(what: str, check: Callable[[], Any], timeout_s: float, every_s: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    if not db.exists():
        return []
    with sqlite3.connect(db, timeout=10) as conn:
        try:
            return conn.execute(sql).fetchall()
        except sqlite3.OperationalError:  # table not created yet
            return []


@pytest.fixture
def world(scenes: Path, weights_dir: Path, repo: Path, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Scenes on an RTSP server, cameras registered in distinct grids, a config file."""
    clips = tmp_path / "clips"
    clips.mkdir()
    for name in [*EXPECTED, "walkthrough", "traffic"]:
        for suffix in (".h264", ".json"):
            (clips / f"{name}{suffix}").write_bytes((scenes / f"{name}{suffix}").read_bytes())
    grid = GridIndex.load(repo / "configs/grid/songjiang.geojson")
    grids = sorted(grid.grids(), key=lambda u: u.code)[::250][:5]
    server = RtspServer(clips, user="admin", password=PASSWORD)
    server.start()
    records, grid_of = [], {}
    for name, unit in zip([*EXPECTED, "walkthrough", "traffic"], grids, strict=True):
        truth = json.loads((scenes / f"{name}.json").read_text())
        polygon = tuple(tuple(p) for p in truth["recommended_zone"])
        purposes = PURPOSE.get(name, NEGATIVE_PURPOSES)
        zones = tuple(Zone(p, ZonePurpose(p), polygon) for p in purposes)  # type: ignore[arg-type]
        point = unit.geometry.representative_point()
        url = server.url(name, user="admin", password=PASSWORD)
        records.append(
            CameraRecord(f"cam-{name}", f"{name} scene", url, url, point.x, point.y, zones=zones)
        )
        grid_of[f"cam-{name}"] = unit.code
    data = tmp_path / "data"
    db = tmp_path / "gw.db"
    registry = tmp_path / "cams.csv"
    write_registry(records, registry)
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    port = free_port()
    config = tmp_path / "gridwatch.yaml"
    config.write_text(
        f"""
paths: {{data_dir: {data}}}
database: {{url: "sqlite:///{db}"}}
grid: {{file: {repo / "configs/grid/songjiang.geojson"}}}
sharding: {{nodes: [{{id: node-e2e}}]}}
edge:
  rules_file: {rules}
  models_catalogue: {repo / "models/catalogue.yaml"}
  metrics_port: 0
  ingest: {{workers: 1, registry_poll_s: 3, watchdog_s: 4, backoff_max_s: 3}}
  delivery: {{aggregator: "tcp://127.0.0.1:{port}", resend_after_s: 2, heartbeat_s: 1}}
aggregator:
  evidence_dir: {data / "evidence"}
  event_types_file: {repo / "configs/event_types.yaml"}
  metrics_port: 0
  receiver: {{bind: "tcp://127.0.0.1:{port}", commit_max_wait_ms: 50}}
""",
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["--config", str(config), "cameras", "import", str(registry)])
    assert result.exit_code == 0, result.output
    env = {**os.environ, "GRIDWATCH_WEIGHTS_DIR": str(weights_dir), "PYTHONUNBUFFERED": "1"}
    env.pop("GRIDWATCH_DATA_DIR", None)
    try:
        yield {
            "config": config,
            "db": db,
            "data": data,
            "server": server,
            "grid_of": grid_of,
            "env": env,
            "tmp": tmp_path,
            "repo": repo,
        }
    finally:
        server.stop()


def start(world: dict[str, Any], *args: str, log: str) -> subprocess.Popen[bytes]:
    out = (world["tmp"] / log).open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "gridwatch.cli", "-v", "--config", str(world["config"]), *args],
        cwd=world["repo"],
        env=world["env"],
        stdout=out,
        stderr=subprocess.STDOUT,
    )


def stop(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return -9
    return proc.returncode


def cases(world: dict[str, Any]) -> list[dict[str, Any]]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "gridwatch.cli",
            "--config",
            str(world["config"]),
            "cases",
            "list",
            "--json",
        ],
        cwd=world["repo"],
        env=world["env"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return [c for c in json.loads(out.stdout) if c.get("kind") != "maintenance"]


def camera_states(world: dict[str, Any]) -> dict[str, str]:
    return dict(query(world["db"], "select camera_id, state from camera_status"))  # type: ignore[arg-type]


def test_scenes_become_cases_through_agent_and_aggregator(world: dict[str, Any]) -> None:
    outbox = world["data"] / "outbox-node-e2e.db"
    agent = start(world, "edge", "run", "--node", "node-e2e", log="agent.log")
    aggregator = None
    try:
        # 1. No aggregator yet: events wait in the durable outbox.
        def waiting_in_outbox() -> bool:
            assert agent.poll() is None, (world["tmp"] / "agent.log").read_text()[-3000:]
            rows = query(outbox, "select count(*) from outbox")
            return bool(rows) and rows[0][0] > 0

        wait_for("an event in the outbox while no aggregator listens", waiting_in_outbox, 150)

        # 2. The aggregator starts: the waiting events are delivered and become cases.
        aggregator = start(world, "aggregator", "run", log="aggregator.log")

        def all_positive_cases() -> list[dict[str, Any]]:
            found = cases(world)
            return (
                found
                if {c["camera_ids"][0] for c in found} >= {f"cam-{n}" for n in EXPECTED}
                else []
            )

        found = wait_for(
            "a case for every positive scene", all_positive_cases, timeout_s=150, every_s=3
        )
        by_camera = {c["camera_ids"][0]: c for c in found}
        assert set(by_camera) == {f"cam-{n}" for n in EXPECTED}, found  # negatives: no case
        for name, code in EXPECTED.items():
            case = by_camera[f"cam-{name}"]
            assert case["event_code"] == code
            assert case["grid_code"] == world["grid_of"][f"cam-{name}"]
            assert case["state"] == "pending_review"
            shown = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "gridwatch.cli",
                    "--config",
                    str(world["config"]),
                    "cases",
                    "show",
                    str(case["case_id"]),
                    "--json",
                ],
                cwd=world["repo"],
                env=world["env"],
                capture_output=True,
                text=True,
                timeout=60,
            )
            detail = json.loads(shown.stdout)
            files = [
                Path(detail["evidence_dir"]) / p for e in detail["events"] for p in e["evidence"]
            ]
            assert any(f.name == "snapshot.jpg" and f.stat().st_size > 1000 for f in files), detail
            assert any(f.name == "clip.mp4" and f.stat().st_size > 1000 for f in files), detail

        # 3. The scenes loop: incidents end and are seen again, joining the same cases.
        def seen_again() -> bool:
            now = cases(world)
            return len(now) == 3 and any(len(c["event_ids"]) > 1 for c in now)

        wait_for("a repeated sighting joining its case", seen_again, timeout_s=150, every_s=5)
        assert len(cases(world)) == 3

        # 4. Camera health from heartbeats: server down → offline, back → online.
        wait_for(
            "all cameras online",
            lambda: (
                set(camera_states(world).values()) == {"online"} and len(camera_states(world)) == 5
            ),
            timeout_s=60,
        )
        world["server"].kill()
        wait_for(
            "cameras offline after the server died",
            lambda: all(s in {"offline", "stalled"} for s in camera_states(world).values()),
            timeout_s=40,
        )
        world["server"].restart()
        wait_for(
            "cameras back online",
            lambda: set(camera_states(world).values()) == {"online"},
            timeout_s=60,
        )
    finally:
        agent_rc = stop(agent)
        aggregator_rc = stop(aggregator) if aggregator is not None else 0
    logs = (world["tmp"] / "agent.log").read_text() + (world["tmp"] / "aggregator.log").read_text()
    assert PASSWORD not in logs
    assert agent_rc == 0, logs[-3000:]
    assert aggregator_rc == 0, logs[-3000:]
