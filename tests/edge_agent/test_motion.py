"""Motion gate and static-foreground blobs on synthetic frames."""

from __future__ import annotations

import numpy as np

from edge_agent.config import MotionConfig
from edge_agent.detections import Detections
from edge_agent.motion import MotionGate, StaticForeground


def _frame(seed: int = 0, square: tuple[int, int] | None = None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.full((180, 320, 3), 90, np.uint8) + rng.integers(0, 3, (180, 320, 3), dtype=np.uint8)
    if square:
        x, y = square
        img[y : y + 30, x : x + 30] = 240
    return img


def test_still_scene_skips_and_counts() -> None:
    gate = MotionGate(MotionConfig(max_skip_s=100))
    assert gate.should_detect("c", 0.0, _frame(0))
    assert not gate.should_detect("c", 1.0, _frame(1))  # sensor noise only
    assert gate.should_detect("c", 2.0, _frame(2, square=(100, 100)))
    assert not gate.should_detect("c", 3.0, _frame(3, square=(100, 100)))  # vs last analysed
    stats = gate.stats["c"]
    assert (stats.frames_seen, stats.frames_skipped) == (4, 2) and stats.skip_rate == 0.5


def test_max_skip_and_disabled_gate_detect_anyway() -> None:
    gate = MotionGate(MotionConfig(max_skip_s=5))
    assert gate.should_detect("c", 0.0, _frame())
    assert not gate.should_detect("c", 4.0, _frame())
    assert gate.should_detect("c", 6.0, _frame())
    off = MotionGate(MotionConfig(enabled=False))
    assert off.should_detect("c", 0.0, _frame()) and off.should_detect("c", 1.0, _frame())


def test_object_that_appears_and_stays_becomes_a_blob() -> None:
    bg = StaticForeground(MotionConfig(blob_static_s=2.0))
    for t in range(6):  # warm-up builds the background
        assert len(bg.update(float(t), _frame(t))) == 0
    found = [len(bg.update(float(t), _frame(t, square=(200, 120)))) for t in range(6, 12)]
    assert found[0] == 0 and found[-1] == 1  # only once it has held still 2 s
    blob = bg.update(12.0, _frame(12, square=(200, 120)))
    x1, y1, x2, y2 = blob.xyxy[0]
    assert blob.labels == ("object",)
    assert abs(x1 - 200) < 8 and abs(y1 - 120) < 8 and abs(x2 - 230) < 8 and abs(y2 - 150) < 8
    person = Detections.from_lists([[195, 110, 235, 160]], ["person"])
    assert len(bg.update(13.0, _frame(13, square=(200, 120)), person)) == 0  # explained


def test_moving_object_is_no_blob() -> None:
    bg = StaticForeground(MotionConfig(blob_static_s=2.0))
    for t in range(6):
        bg.update(float(t), _frame(t))
    for t in range(6, 14):
        assert len(bg.update(float(t), _frame(t, square=(20 * (t - 6), 60)))) == 0
