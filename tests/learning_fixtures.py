"""Real START events for the learning tests: composed scenes through the edge pipeline.

``dumping_starts`` replays (real YOLO, tracker, static objects, rules) three clips of
the one camera view of the composed scenes, with a no-dumping zone over the whole lawn,
and keeps each clip's first START event with its clean frame:

* ``first``: the ``dumping`` scene (a man leaves a box on the lawn);
* ``again``: the same scene composed with another seed, as if the same thing happened
  another day (another carrier, the box a little elsewhere, other passers-by);
* ``elsewhere``: the first clip mirrored left to right: a box left at another place of
  the lawn.

Import with ``from tests.learning_fixtures import dumping_starts`` (a fixture).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

LAWN = [{"id": "lawn", "purpose": "no_dumping", "polygon": [[0, 0.55], [1, 0.55], [1, 1], [0, 1]]}]
RULES = """
rules:
  - {id: dumping, kind: left_object, event_code: "01-03", zones: [no_dumping],
     classes: [bag, object, furniture], dwell_s: 6, end_after_s: 5}
"""
AGAIN_SEED = 7
REPO = Path(__file__).resolve().parent.parent


def mirror(src: Path, dst: Path) -> Path:
    """``src`` flipped left to right (H.264, GOP 2 s like the composed scenes)."""
    import av
    import cv2

    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        video = inp.streams.video[0]
        stream = out.add_stream("libx264", rate=int(video.average_rate or 10))
        stream.width, stream.height, stream.pix_fmt = video.width, video.height, "yuv420p"
        stream.options = {"g": "20"}
        for frame in inp.decode(video):
            flipped = cv2.flip(frame.to_ndarray(format="bgr24"), 1)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(flipped, format="bgr24")))
        out.mux(stream.encode())
    return dst


def first_start(video: Path, camera_id: str, rules_file: Path) -> Any:
    """The first START event of ``video`` through the edge pipeline (replay stops there)."""
    from edge_agent.analyzer import CameraAnalyzer
    from edge_agent.catalogue import load_catalogue
    from edge_agent.detector import Detector
    from edge_agent.replay import replay_video
    from edge_agent.rules.config import load_rules
    from gridwatch.registry.zones import parse_zones

    entry = load_catalogue(REPO / "models/catalogue.yaml").get("yolo26n")
    analyzer = CameraAnalyzer(
        camera_id, parse_zones(json.dumps(LAWN)), load_rules(rules_file).active()
    )
    for event in replay_video(video, analyzer, Detector(entry), interval=1.0, max_side=960):
        if event.phase.value == "start":
            return event
    raise AssertionError(f"{video} gave no START event")


@pytest.fixture(scope="session")
def dumping_starts(
    scenes: Path, weights_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    import os

    from gridwatch.scenes.compose import compose_scene

    os.environ.setdefault("GRIDWATCH_WEIGHTS_DIR", str(weights_dir))
    folder = tmp_path_factory.mktemp("learning")
    rules = folder / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    again = compose_scene("dumping", folder / "again", size=(640, 360), seed=AGAIN_SEED)
    clips = {
        "first": scenes / "dumping.mp4",
        "again": again.mp4,
        "elsewhere": mirror(scenes / "dumping.mp4", folder / "mirrored.mp4"),
    }
    return {name: first_start(video, "cam-lawn", rules) for name, video in clips.items()}
