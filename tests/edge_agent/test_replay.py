"""``edge replay`` on the composed scenes with the real detector: expected events only."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from edge_agent.replay import replay

RULES = """
rules:
  - {id: dumping, kind: left_object, event_code: "01-03", zones: [no_dumping],
     classes: [bag, object, furniture], dwell_s: 6, end_after_s: 8}
  - {id: street-vending, kind: vending, event_code: "05-01", zones: [no_vending],
     classes: [person], props: [umbrella, table, chair, cart], dwell_s: 6, end_after_s: 8,
     near: 0.5}
  - {id: illegal-parking, kind: dwell, event_code: "05-05", zones: [no_parking],
     classes: [car, truck, bus], dwell_s: 6, end_after_s: 8, min_confidence: 0.35}
  - {id: bicycle-pile, kind: count, event_code: "05-06", zones: [bike_parking],
     classes: [bicycle, motorcycle], min_count: 3, dwell_s: 6, end_after_s: 8}
"""
PURPOSE = {"dumping": "no_dumping", "vending": "no_vending", "parking": "no_parking"}
DWELL = 6.0


def _replay(scenes: Path, name: str, tmp_path: Path, purposes: list[str]) -> list[dict]:  # type: ignore[type-arg]
    truth = json.loads((scenes / f"{name}.json").read_text())
    zones = [{"id": p, "purpose": p, "polygon": truth["recommended_zone"]} for p in purposes]
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    args = [
        str(scenes / f"{name}.mp4"),
        "--rules",
        str(rules),
        "--zones",
        json.dumps(zones),
        "--json",
        "--evidence-dir",
        str(tmp_path / "ev"),
    ]
    result = CliRunner().invoke(replay, args)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


@pytest.mark.yolo
@pytest.mark.parametrize("name", ["dumping", "vending", "parking"])
def test_positive_scene_yields_its_event(
    scenes: Path, weights_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv("GRIDWATCH_WEIGHTS_DIR", str(weights_dir))
    truth = json.loads((scenes / f"{name}.json").read_text())
    (expected,) = truth["expected"]
    events = _replay(scenes, name, tmp_path, [PURPOSE[name]])
    (ev,) = events  # exactly one, a START: nothing leaves in these scenes
    assert ev["phase"] == "start" and ev["event_code"] == expected["event_code"]
    assert ev["camera_id"] == name and len(ev["event_id"]) == 32
    assert ev["t_event_s"] >= expected["t_appear_s"] + DWELL - 1.0
    jpeg = Path(ev["evidence_files"]["snapshot.jpg"]).read_bytes()
    assert cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR) is not None


@pytest.mark.yolo
@pytest.mark.parametrize("name", ["walkthrough", "traffic"])
def test_negative_scene_yields_nothing(
    scenes: Path, weights_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv("GRIDWATCH_WEIGHTS_DIR", str(weights_dir))
    purposes = ["no_dumping", "no_vending", "no_parking", "bike_parking"]
    assert _replay(scenes, name, tmp_path, purposes) == []


def test_unreadable_file_fails_clearly(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    result = CliRunner().invoke(replay, [str(bad)])
    assert result.exit_code != 0
    missing = CliRunner().invoke(replay, [str(tmp_path / "nope.mp4")])
    assert missing.exit_code != 0 and "no such file" in missing.output
