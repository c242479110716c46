"""Operators teach the cameras, end to end on real parts (issue 14).

1. The composed scenes (real footage, real photo cut-outs) go through the edge pipeline
   (real YOLO, static objects, rules) and their events, with clean frames, travel over a
   real ZeroMQ DEALER and outbox to an aggregator process (SQLite), which opens cases.
2. An operator, in headless Chromium on the aggregator's own web port, confirms the
   dumping and parking cases and rejects the vending case as a false positive; the camera
   learns it: the same event sent again opens no case, the camera page lists the
   suppression and an engineer lifts it there.
3. ``gridwatch dataset export`` writes a YOLO dataset from the reviewed cases (positives,
   a hard negative, split by camera) and ``gridwatch model train`` fine-tunes yolo26n on
   it for one epoch at 128 px on the CPU, offline, into a writable weights folder, and
   adds it to a catalogue.
4. The new catalogue entry loads and detects, ``gridwatch edge replay`` runs with it, and
   ``gridwatch model compare`` evaluates both models on a labelled scene.

The test proves the loop, not the accuracy (one epoch on three images).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gridwatch.cli import cli
from gridwatch.grid.model import GridIndex
from gridwatch.registry.csvfile import write_registry
from gridwatch.registry.schema import CameraRecord
from gridwatch.registry.zones import Zone, ZonePurpose
from tests.test_end_to_end import RULES, free_port, query, start, stop, wait_for
from tests.web.browser_fixtures import CHROMIUM, CHROMIUM_ARGS, shot

pytestmark = [pytest.mark.yolo]

SCENES = {"dumping": "no_dumping", "vending": "no_vending", "parking": "no_parking"}
OPERATOR = ("op-wang", "operator-pass-1")
ENGINEER = ("eng-li", "engineer-pass-1")


@pytest.fixture
def world(scenes: Path, weights_dir: Path, repo: Path, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Three cameras in three grids, users, a config; the aggregator process with its web UI."""
    grid = GridIndex.load(repo / "configs/grid/songjiang.geojson")
    units = sorted(grid.grids(), key=lambda u: u.code)[::300][:3]
    records = []
    for (name, purpose), unit in zip(SCENES.items(), units, strict=True):
        truth = json.loads((scenes / f"{name}.json").read_text())
        polygon = tuple(tuple(p) for p in truth["recommended_zone"])
        point = unit.geometry.representative_point()
        url = "rtsp://admin:Cam-Secret-9@127.0.0.1:9/live"
        zone = Zone(purpose, ZonePurpose(purpose), polygon)  # type: ignore[arg-type]
        records.append(
            CameraRecord(f"cam-{name}", f"{name} scene", url, url, point.x, point.y, zones=(zone,))
        )
    registry, rules = tmp_path / "cams.csv", tmp_path / "rules.yaml"
    write_registry(records, registry)
    rules.write_text(RULES, encoding="utf-8")
    data, db = tmp_path / "data", tmp_path / "gw.db"
    port, web_port = free_port(), free_port()
    config = tmp_path / "gridwatch.yaml"
    config.write_text(
        f"""
paths: {{data_dir: {data}}}
database: {{url: "sqlite:///{db}"}}
grid: {{file: {repo / "configs/grid/songjiang.geojson"}}}
sharding: {{nodes: [{{id: node-e2e}}]}}
edge:
  rules_file: {rules}
  models_catalogue: {tmp_path / "catalogue.yaml"}
aggregator:
  evidence_dir: {data / "evidence"}
  event_types_file: {repo / "configs/event_types.yaml"}
  metrics_port: 0
  receiver: {{bind: "tcp://127.0.0.1:{port}", commit_max_wait_ms: 50}}
""",
        encoding="utf-8",
    )
    shutil.copyfile(repo / "models/catalogue.yaml", tmp_path / "catalogue.yaml")
    runner = CliRunner()
    result = runner.invoke(cli, ["--config", str(config), "cameras", "import", str(registry)])
    assert result.exit_code == 0, result.output
    for (who, password), role in ((OPERATOR, "operator"), (ENGINEER, "engineer")):
        args = ["--config", str(config), "users", "add", who, "--role", role]
        result = runner.invoke(cli, args, input=f"{password}\n")
        assert result.exit_code == 0, result.output
    env = {**os.environ, "GRIDWATCH_WEIGHTS_DIR": str(weights_dir), "PYTHONUNBUFFERED": "1"}
    env.pop("GRIDWATCH_DATA_DIR", None)
    world = {
        "config": config, "db": db, "data": data, "env": env, "tmp": tmp_path, "repo": repo,
        "endpoint": f"tcp://127.0.0.1:{port}", "web": f"http://127.0.0.1:{web_port}",
        "rules": rules, "scenes": scenes, "catalogue": tmp_path / "catalogue.yaml",
    }  # fmt: skip
    aggregator = start(world, "aggregator", "run", "--web-port", str(web_port), log="agg.log")
    try:
        yield world
    finally:
        assert stop(aggregator) == 0, (tmp_path / "agg.log").read_text()[-3000:]


def scene_events(world: dict[str, Any]) -> dict[str, list[Any]]:
    """Each positive scene's events through the edge pipeline, at live Unix times."""
    from edge_agent.analyzer import CameraAnalyzer
    from edge_agent.catalogue import load_catalogue
    from edge_agent.detector import Detector
    from edge_agent.replay import replay_video
    from edge_agent.rules.config import load_rules
    from gridwatch.registry.zones import parse_zones

    detector = Detector(load_catalogue(world["catalogue"]).get("yolo26n"))
    rules = load_rules(world["rules"]).active()
    base = time.time() - 120
    out = {}
    for name, purpose in SCENES.items():
        truth = json.loads((world["scenes"] / f"{name}.json").read_text())
        zones = parse_zones(json.dumps([{"id": purpose, "purpose": purpose,
                                         "polygon": truth["recommended_zone"]}]))  # fmt: skip
        analyzer = CameraAnalyzer(f"cam-{name}", zones, rules)
        video = world["scenes"] / f"{name}.mp4"
        events = [
            dataclasses.replace(ev, t_start=base + ev.t_start, t_event=base + ev.t_event)
            for ev in replay_video(video, analyzer, detector, interval=1.0, max_side=960)
        ]
        assert [e.phase.value for e in events][:1] == ["start"], (name, events)
        out[name] = events
    return out


def cases_by_camera(world: dict[str, Any]) -> dict[str, tuple[int, str]]:
    rows = query(world["db"], "select camera_id, id, state from cases where kind = 'event'")
    return {cam: (case_id, state) for cam, case_id, state in rows}


def login(browser: Any, world: dict[str, Any], who: tuple[str, str], path: str) -> Any:
    page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    page.goto(f"{world['web']}{path}")
    page.fill("#username", who[0])
    page.fill("#password", who[1])
    with page.expect_navigation():
        page.click("#login-submit")
    assert "/login" not in page.url, page.content()
    return page


def cli_run(world: dict[str, Any], *args: str, timeout: float = 300) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "gridwatch.cli", "--config", str(world["config"]), *args],
        cwd=world["repo"], env=world["env"], capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout + out.stderr


def test_operators_decisions_become_a_model(world: dict[str, Any], tmp_path: Path) -> None:
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} missing: install Debian's chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    from edge_agent.config import DeliveryConfig
    from edge_agent.outbox import Outbox
    from edge_agent.publisher import Publisher

    # 1. Scenes → edge pipeline → outbox → ZeroMQ → aggregator → cases.
    events = scene_events(world)
    outbox = Outbox(tmp_path / "outbox.db")
    delivery = DeliveryConfig(aggregator=world["endpoint"], resend_after_s=1, heartbeat_s=1)
    publisher = Publisher("node-e2e", delivery, outbox)
    publisher.start()
    try:
        for evs in events.values():
            for ev in evs:
                assert ev.phase.value == "end" or ev.frame is not None  # a clean frame
                publisher.submit(ev.to_payload(), ev.blobs())
        found = wait_for(
            "a case per scene",
            lambda: len(cases_by_camera(world)) == 3 and cases_by_camera(world),
            timeout_s=60,
        )
        assert {state for _, state in found.values()} == {"pending_review"}

        # 2. The operator reviews in the browser: confirm two, reject one as a false positive.
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = login(browser, world, OPERATOR, "/review")
            for name in ("dumping", "parking"):
                page.goto(f"{world['web']}/review?case={found[f'cam-{name}'][0]}")
                with page.expect_navigation():
                    page.click("#btn-confirm")
            page.goto(f"{world['web']}/review?case={found['cam-vending'][0]}")
            page.select_option("#reject-reason", "false_positive")
            shot(page, "loop-reject")
            with page.expect_navigation():
                page.click("#btn-reject")
            assert page.locator("#review-empty").is_visible()
            states = {cam: state for cam, (_, state) in cases_by_camera(world).items()}
            assert states == {"cam-dumping": "registered", "cam-parking": "registered",
                              "cam-vending": "rejected"}  # fmt: skip
            (sid,) = [r[0] for r in query(world["db"], "select id from suppressions")]

            # The same false positive again: stored, held back, no new case.
            start_ev = events["vending"][0]
            again = dataclasses.replace(start_ev, event_id=uuid.uuid4().hex,
                                        incident_id=uuid.uuid4().hex)  # fmt: skip
            publisher.submit(again.to_payload(), again.blobs())
            wait_for(
                "the repeat held back",
                lambda: query(world["db"], f"select suppressed_by from events "
                                           f"where event_id = '{again.event_id}'") == [(sid,)],
                timeout_s=30,
            )  # fmt: skip
            assert len(cases_by_camera(world)) == 3
            assert len(query(world["db"], "select id from cases where kind = 'event'")) == 3

            # The engineer sees it on the camera page and lifts it.
            eng = login(browser, world, ENGINEER, "/cameras/cam-vending")
            item = eng.locator(f"#suppression-{sid}")
            assert item.get_attribute("data-active") == "1"
            assert item.locator(".held-back").inner_text() == "1"
            shot(eng, "loop-suppression")
            with eng.expect_navigation():
                eng.click(f"#lift-{sid}")
            assert eng.locator(f"#suppression-{sid}").get_attribute("data-active") == "0"
            assert eng.locator("#flash").is_visible()
            browser.close()
    finally:
        publisher.stop()
        outbox.close()

    # 3. Export a dataset from the reviewed cases and fine-tune on it.
    ds = tmp_path / "dataset"
    cli_run(world, "dataset", "export", "--out", str(ds))
    card = json.loads((ds / "dataset.json").read_text())
    assert card["totals"]["positive"] == 2 and card["totals"]["negative"] == 1
    assert set(card["per_camera"]) == {"cam-dumping", "cam-parking", "cam-vending"}
    assert all(len(c["splits"]) == 1 for c in card["per_camera"].values())
    classes = {c["name"]: c for c in card["classes"]}
    assert classes["pile"]["images"] == 1 and classes["car"]["images"] == 1
    weights = tmp_path / "weights"
    started = time.monotonic()
    out = cli_run(world, "model", "train", "--data", str(ds), "--base", "yolo26n",
                  "--epochs", "1", "--imgsz", "128", "--batch", "2", "--device", "cpu",
                  "--name", "yolo26n-loop", "--weights-dir", str(weights))  # fmt: skip
    train_s = time.monotonic() - started
    assert "yolo26n-loop" in out and (weights / "yolo26n-loop.pt").is_file(), out
    assert not list(Path(world["env"]["GRIDWATCH_WEIGHTS_DIR"]).glob("yolo26n-loop*"))
    assert "download" not in out.lower(), out

    # 4. The new entry loads and runs: detector, edge replay, model compare.
    from edge_agent.catalogue import load_catalogue
    from edge_agent.detector import Detector

    entry = load_catalogue(world["catalogue"]).get("yolo26n-loop")
    assert entry.classes[0] == "pile" and entry.vocabulary["garbage_bag"] == "garbage_bag"
    assert entry.imgsz == 128 and entry.weights_dir == weights
    (detections,) = Detector(entry).detect([_image(events)])  # it runs (accuracy aside)
    assert all(label in entry.vocabulary.values() for label in detections.labels)
    replayed = cli_run(world, "edge", "replay", str(world["scenes"] / "dumping.mp4"),
                       "--catalogue", str(world["catalogue"]), "--model", "yolo26n-loop",
                       "--rules", str(world["rules"]), "--json")  # fmt: skip
    assert "samples" in replayed
    compared = cli_run(world, "model", "compare", "yolo26n", "yolo26n-loop",
                       "--eval", str(world["scenes"] / "labels.json"), "--only", "dumping",
                       "--rules", str(world["rules"]))  # fmt: skip
    assert "recall" in compared and "B - A" in compared
    print(f"fine-tune (1 epoch, 3 images, 128 px, CPU) took {train_s:.0f} s")


def _image(events: dict[str, list[Any]]) -> Any:
    import cv2
    import numpy as np

    frame = events["dumping"][0].frame
    return cv2.imdecode(np.frombuffer(frame.jpeg, np.uint8), cv2.IMREAD_COLOR)
