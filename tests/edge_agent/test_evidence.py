"""Evidence: the JPEG decodes, the clip is H.264 within its byte bound."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest

from edge_agent.config import EvidenceConfig
from edge_agent.evidence import annotate, clip_mp4, snapshot_jpeg


def _frames(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 255, (181, 321, 3), dtype=np.uint8) for _ in range(n)]


def test_snapshot_decodes_with_drawing() -> None:
    img = np.zeros((180, 320, 3), np.uint8)
    drawn = annotate(img, [("bag", 0.9, (10, 20, 60, 80))], ((0, 0.5), (1, 0.5), (1, 1)), "01-03")
    assert img.sum() == 0 and drawn.sum() > 0  # the original is not touched
    back = cv2.imdecode(np.frombuffer(snapshot_jpeg(drawn), np.uint8), cv2.IMREAD_COLOR)
    assert back.shape == (180, 320, 3)


@pytest.mark.parametrize(("max_bytes", "fits"), [(8_000_000, True), (10_000, True)])
def test_clip_is_h264_and_bounded(max_bytes: int, fits: bool) -> None:
    av = pytest.importorskip("av")
    cfg = EvidenceConfig(clip_frames=6, clip_max_bytes=max_bytes)
    data = clip_mp4(_frames(10), cfg)
    assert data is not None and len(data) <= max_bytes
    with av.open(io.BytesIO(data)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert 1 <= sum(1 for _ in container.decode(video=0)) <= 6


def test_no_frames_no_clip() -> None:
    assert clip_mp4([], EvidenceConfig()) is None
    assert clip_mp4(_frames(2), EvidenceConfig(clip_frames=0)) is None
