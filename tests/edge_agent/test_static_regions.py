"""Regions of stopped pixels: bodies not lines, fragments joined, ghosts and light changes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge_agent.config import StaticConfig
from edge_agent.static.background import DualBackground
from edge_agent.static.place import PlaceCheck, PlaceState
from edge_agent.static.regions import Region, is_ghost, light_change, regions


def test_lines_are_no_objects_and_fragments_join() -> None:
    static = np.zeros((100, 200), bool)
    static[40:41, 10:90] = True  # a wire: one pixel thick
    static[60:70, 120:130] = True  # a box...
    static[62:70, 133:140] = True  # ...and a piece beside it
    found = regions(static, min_area=0.0005, max_area=0.25, merge_gap=0.35)
    assert [r.box for r in found] == [(120, 60, 140, 70)]
    assert found[0].area == 100 + 56


def _region(y1: int, y2: int, x1: int, x2: int) -> Region:
    mask = np.ones((y2 - y1, x2 - x1), bool)
    return Region((x1, y1, x2, y2), mask, int(mask.sum()))


def _paving(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    tiles = np.kron(rng.uniform(90, 150, (10, 20)), np.ones((10, 10)))  # 100 x 200
    return np.repeat(tiles[:, :, None], 3, axis=2).astype(np.float32)


@pytest.mark.parametrize(
    ("what", "ghost", "light"),
    [("bag", False, False), ("shadow", False, True), ("ghost", True, None)],
)
def test_ghost_and_light_change_tests(what: str, ghost: bool, light: bool | None) -> None:
    background = _paving()
    current = background.copy()
    region = _region(40, 60, 80, 110)
    if what == "bag":  # a dark smooth thing with an outline of its own
        current[40:60, 80:110] = 40.0
    elif what == "shadow":  # the same paving, darker under a soft-edged shadow
        shade = np.zeros((100, 200), np.float32)
        shade[20:80, 40:160] = 1.0
        shade = cv2.GaussianBlur(shade, (0, 0), 6)
        current *= (1 - 0.4 * shade)[:, :, None]
        changed = np.abs(current - background).max(axis=2) > 18
        ys, xs = np.nonzero(changed)
        y1, y2, x1, x2 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        region = Region((x1, y1, x2, y2), changed[y1:y2, x1:x2], int(changed.sum()))
    else:  # the background had a dark coat in it; now only plain paving is there
        background[40:60, 80:110] = 30.0
        current[40:60, 80:110] = 120.0
    assert is_ghost(current, background, region, margin=0.1) is ghost
    if light is not None:
        assert light_change(current, background, region) is light


def test_place_check_tells_present_restored_and_changed() -> None:
    config = StaticConfig()
    bg = DualBackground(config)
    empty = np.clip(_paving(), 0, 255).astype(np.uint8)
    for t in range(6):
        bg.update(float(t), empty)
    with_bag = empty.copy()
    with_bag[40:60, 80:110] = 30
    bg.update(6.0, with_bag)
    box = (80.0, 40.0, 110.0, 60.0)  # the analysis image is the work size here (200 wide)
    place = PlaceCheck.capture(bg, box)
    assert place.usable
    assert place.state(bg) is PlaceState.PRESENT
    walker = with_bag.copy()
    walker[35:65, 75:115] = 200  # someone stands in front of it
    bg.update(7.0, walker)
    assert place.state(bg) is PlaceState.CHANGED
    brighter = np.clip(empty.astype(np.float32) * 1.2, 0, 255).astype(np.uint8)
    bg.update(8.0, brighter)  # gone, and the sun came out
    assert place.state(bg) is PlaceState.RESTORED
