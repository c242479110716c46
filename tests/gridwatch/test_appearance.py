"""Appearance signatures on real frames: the same object again looks alike, through a
change of light; the empty place, another place and another object do not."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from gridwatch.appearance import SignatureError, signature, similarity

Image = npt.NDArray[np.uint8]


def frame_at(video: Path, t: float) -> Image:
    cap = cv2.VideoCapture(str(video))
    cap.set(cv2.CAP_PROP_POS_MSEC, t * 1000)
    ok, image = cap.read()
    cap.release()
    assert ok, f"no frame at {t} s in {video}"
    return np.asarray(image, np.uint8)


@pytest.fixture(scope="module")
def dumping(scenes: Path) -> tuple[Image, Image, tuple[float, ...], Image]:
    """(frame before the box is set down, frame with the box lying there, its pixel box,
    a frame 15 s later)."""
    truth = json.loads((scenes / "dumping.json").read_text())
    (expected,) = truth["expected"]
    w, h = truth["size"]
    x1, y1, x2, y2 = expected["box"]
    box = (x1 * w, y1 * h, x2 * w, y2 * h)
    empty = frame_at(scenes / "dumping.mp4", 1.0)
    lying = frame_at(scenes / "dumping.mp4", expected["t_owner_leaves_s"] + 3)
    later = frame_at(scenes / "dumping.mp4", expected["t_owner_leaves_s"] + 18)
    return empty, lying, box, later


def test_the_same_object_looks_the_same_in_other_light(dumping: tuple) -> None:  # type: ignore[type-arg]
    _, lying, box, later = dumping
    sig = signature(lying, box)
    assert sig is not None and similarity(sig, sig) == pytest.approx(1.0)
    darker = np.clip(lying.astype(np.float32) * 0.6 + 10, 0, 255).astype(np.uint8)
    assert similarity(sig, signature(darker, box)) >= 0.8  # type: ignore[arg-type]
    assert similarity(sig, signature(later, box)) >= 0.8  # type: ignore[arg-type]


def test_the_empty_place_and_another_place_look_different(dumping: tuple) -> None:  # type: ignore[type-arg]
    empty, lying, box, _ = dumping
    sig = signature(lying, box)
    assert sig is not None
    assert similarity(sig, signature(empty, box)) < 0.5  # type: ignore[arg-type]
    w = lying.shape[1]
    elsewhere = (w - box[2], box[1], w - box[0], box[3])  # the mirror place on the lawn
    assert similarity(sig, signature(lying, elsewhere)) < 0.5  # type: ignore[arg-type]


def test_another_object_at_the_same_place_looks_different(scenes: Path, dumping: tuple) -> None:  # type: ignore[type-arg]
    _, lying, box, _ = dumping
    # The vending scene puts a stall with its fruit crate on the same lawn.
    stall = frame_at(scenes / "vending.mp4", 30.0)
    assert similarity(signature(lying, box), signature(stall, box)) < 0.5  # type: ignore[arg-type]


def test_tiny_boxes_have_no_signature_and_bad_text_is_refused() -> None:
    image = np.zeros((40, 40, 3), np.uint8)
    assert signature(image, (10, 10, 11, 30)) is None
    good = signature(image, (5, 5, 30, 30))
    assert good is not None and similarity(good, good) == 1.0  # two flat patches agree
    for bad in ("b9:AAAA", "a1:not base64!", "a1:AAAA", "nonsense"):
        with pytest.raises(SignatureError):
            similarity(good, bad)
