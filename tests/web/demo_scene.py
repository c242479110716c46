"""A real demo case for the browser tests: the ``dumping`` scene through the edge pipeline.

The scene is composed from real footage (gridwatch.scenes), replayed through the real
detector, tracker and rules (``gridwatch edge replay --json --evidence-dir``), and the
resulting events, with their evidence JPEG and clip, are committed by the aggregator's
EventStore. Composing and replaying take 30-60 s on a small CPU, so the replay output is
cached in pytest's cache folder and reused until ``CACHE_KEY`` changes.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
WEIGHTS_DIR = (REPO / os.environ.get("GRIDWATCH_WEIGHTS_DIR", "../shared/models")).resolve()
CACHE_KEY = "gridwatch-web/dumping-scene-v1"
SCENE = "dumping"
SIZE = (640, 360)
RULES = """
rules:
  - {id: dumping, kind: left_object, event_code: "01-03", zones: [no_dumping],
     classes: [bag, object, furniture], dwell_s: 6, end_after_s: 8}
"""


def _require_inputs() -> None:
    from gridwatch.scenes import sprites

    if not sprites.VTEST.is_file():
        pytest.skip(f"{sprites.VTEST} missing: install the Debian package opencv-doc")
    if not (WEIGHTS_DIR / "yolo26n_from_int8.pt").is_file():
        pytest.skip(f"YOLO weights missing in {WEIGHTS_DIR}: set GRIDWATCH_WEIGHTS_DIR")
    pytest.importorskip("ultralytics")


def _replay(folder: Path, camera_id: str) -> list[dict[str, Any]]:
    """Compose the scene and replay it; returns the events (JSON) with evidence paths."""
    from click.testing import CliRunner

    from edge_agent.replay import replay
    from gridwatch.scenes.compose import compose_scene

    info = compose_scene(SCENE, folder, size=SIZE)
    zones = [{"id": "pavement", "purpose": "no_dumping", "polygon": info.recommended_zone}]
    rules = folder / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    args = [str(info.mp4), "--rules", str(rules), "--zones", json.dumps(zones)]
    args += ["--camera-id", camera_id, "--json", "--evidence-dir", str(folder / "evidence")]
    os.environ.setdefault("GRIDWATCH_WEIGHTS_DIR", str(WEIGHTS_DIR))
    result = CliRunner().invoke(replay, args)
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert events, f"the {SCENE} scene produced no event: {result.output}"
    (folder / "zones.json").write_text(json.dumps(zones), encoding="utf-8")
    return events


def demo_events(cache_root: Path, camera_id: str) -> tuple[list[dict[str, Any]], list[Any]]:
    """The replayed events and the zones they were found in (cached across sessions)."""
    folder = cache_root / camera_id
    done = folder / "events.json"
    if done.is_file():
        events = json.loads(done.read_text(encoding="utf-8"))
        files = [Path(p) for e in events for p in e.get("evidence_files", {}).values()]
        if all(f.is_file() for f in files):
            return events, json.loads((folder / "zones.json").read_text(encoding="utf-8"))
    _require_inputs()
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    events = _replay(folder, camera_id)
    done.write_text(json.dumps(events, ensure_ascii=False), encoding="utf-8")
    return events, json.loads((folder / "zones.json").read_text(encoding="utf-8"))


def incoming_events(events: list[dict[str, Any]], *, now: float | None = None) -> list[Any]:
    """The replayed events as the aggregator receives them, moved to the recent past.

    Replay times are seconds into the video; they are shifted so the scene ends a few
    minutes before ``now`` (the case then looks like a fresh find in the review queue).
    """
    from aggregator.store import IncomingEvent
    from gridwatch.protocol import Box, EventPayload

    now = time.time() if now is None else now
    base = now - 300.0
    out = []
    for e in events:
        files = {name: Path(path).read_bytes() for name, path in e["evidence_files"].items()}
        payload = EventPayload(
            event_id=e["event_id"],
            incident_id=e["incident_id"],
            phase=e["phase"],
            camera_id=e["camera_id"],
            rule_id=e["rule_id"],
            event_code=e["event_code"],
            t_start=base + e["t_start_s"],
            t_event=base + e["t_event_s"],
            confidence=e["confidence"],
            boxes=[Box(cls=b["cls"], conf=b["conf"], xyxy=tuple(b["xyxy"])) for b in e["boxes"]],
            zone_id=e["zone_id"],
            model=e["model"],
            evidence=list(files),
        )
        out.append(IncomingEvent(payload, "edge-node-01", files, payload.t_event + 0.5))
    return out
