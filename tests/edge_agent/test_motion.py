"""The motion gate on synthetic frames."""

from __future__ import annotations

import numpy as np

from edge_agent.config import MotionConfig
from edge_agent.motion import MotionGate


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
