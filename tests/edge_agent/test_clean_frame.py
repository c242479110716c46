"""A START carries its clean frame: the analysis frame with nothing drawn, its boxes in
that frame's pixels, what else the detector saw, and the place's appearance signature."""

# ruff: noqa: F811

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from edge_agent.events import FRAME, SNAPSHOT
from edge_agent.replay import sample_frames
from gridwatch.appearance import signature, similarity
from gridwatch.protocol import MessageType, decode, encode
from tests.learning_fixtures import dumping_starts  # noqa: F401 (a fixture)

pytestmark = pytest.mark.yolo


def test_start_keeps_the_clean_frame_and_pixel_boxes(
    dumping_starts: dict[str, Any], scenes: Path
) -> None:
    ev = dumping_starts["first"]
    assert ev.frame is not None
    blobs = ev.blobs()
    assert list(blobs)[:3] == [SNAPSHOT, "clip.mp4", FRAME]
    frame = cv2.imdecode(np.frombuffer(blobs[FRAME], np.uint8), cv2.IMREAD_COLOR)
    snapshot = cv2.imdecode(np.frombuffer(blobs[SNAPSHOT], np.uint8), cv2.IMREAD_COLOR)
    info = ev.frame.payload
    assert frame.shape[:2] == (info.height, info.width) == snapshot.shape[:2]

    # The frame is the decoded sample itself; the snapshot has the boxes drawn on it.
    raw = next(img for t, img in sample_frames(scenes / "dumping.mp4", 1.0) if t >= ev.t_event)
    (box,) = info.boxes
    x1, y1, x2, y2 = box.xyxy
    edge = (slice(max(0, y1 - 3), y2 + 3), slice(max(0, x1 - 3), x2 + 3))
    clean_diff = np.abs(frame[edge].astype(int) - raw[edge].astype(int)).mean()
    drawn_diff = np.abs(snapshot[edge].astype(int) - raw[edge].astype(int)).mean()
    assert clean_diff < 6 < drawn_diff, (clean_diff, drawn_diff)

    # Pixel boxes are the normalized boxes in the frame's pixels.
    (norm,) = ev.boxes
    expected = [norm.xyxy[i] * (info.width if i % 2 == 0 else info.height) for i in range(4)]
    assert np.allclose(box.xyxy, expected, atol=1.0) and box.cls == norm.cls
    # What the detector and static objects saw includes the event's own object.
    assert any(s.cls == box.cls and s.xyxy == box.xyxy for s in info.seen)
    # The signature is that of the place on the clean frame.
    assert info.signature is not None
    assert similarity(info.signature, signature(raw, box.xyxy)) > 0.9  # type: ignore[arg-type]

    # It all travels: the frame as a blob, its boxes in the payload.
    msg = decode(encode(MessageType.EVENT, ev.to_payload(), node="n1", blobs=blobs))
    assert msg.payload.frame == info and msg.blobs[FRAME] == blobs[FRAME]
    assert ev.summary()["frame"]["boxes"][0]["xyxy"] == list(box.xyxy)
