"""The clip ring: the START clip's frames wait as JPEGs, not raw arrays, and the clip
built from them shows the same frames at the same size."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_agent.analyzer import CameraAnalyzer
from edge_agent.budget import deep_nbytes
from edge_agent.clip_ring import ClipRing
from edge_agent.config import EvidenceConfig
from edge_agent.detections import Detections
from edge_agent.evidence import clip_mp4
from edge_agent.rules.config import load_rules
from gridwatch.scenes import sprites


@pytest.fixture(scope="module")
def street() -> list[np.ndarray]:
    """30 real street frames (vtest.avi) at the agent's analysis size, 960×540."""
    if not sprites.VTEST.is_file():
        pytest.skip(f"{sprites.VTEST} missing: install the Debian package opencv-doc")
    cap = cv2.VideoCapture(str(sprites.VTEST))
    frames = []
    while len(frames) < 30:
        ok, frame = cap.read()
        assert ok
        frames.append(np.asarray(cv2.resize(frame, (960, 540)), np.uint8))
    return frames


def _decoded(data: bytes) -> list[np.ndarray]:
    av = pytest.importorskip("av")
    with av.open(io.BytesIO(data)) as container:
        return [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2))
    return 10 * np.log10(255**2 / max(mse, 1e-9))


def test_the_ring_is_bounded_and_a_tenth_of_the_raw_frames(street: list[np.ndarray]) -> None:
    ring = ClipRing(frames=12, quality=70)
    for image in street:
        ring.add(image)
    assert len(ring) == 12
    raw = 12 * street[0].nbytes  # what the analyzer used to hold: 18.7 MB
    assert ring.nbytes() < raw / 10
    assert ring.encoded == len(street)


def test_the_clip_shows_the_same_frames_at_the_same_size(street: list[np.ndarray]) -> None:
    config = EvidenceConfig(clip_frames=12)
    ring = ClipRing.for_config(config)
    for image in street:
        ring.add(image)
    from_ring = ring.clip(config)
    from_raw = clip_mp4(street[-12:], config)
    assert from_ring is not None and from_raw is not None
    ours, theirs = _decoded(from_ring), _decoded(from_raw)
    assert len(ours) == len(theirs) == 12
    assert ours[0].shape == theirs[0].shape == (540, 960, 3)
    # the same frames, in order: each clip frame is closest to its own original
    for i, frame in enumerate(ours):
        scores = [_psnr(frame, original) for original in street[-12:]]
        assert int(np.argmax(scores)) == i
        assert scores[i] > 25.0, f"frame {i}: {scores[i]:.1f} dB"


def test_a_still_frame_reuses_the_last_jpeg(street: list[np.ndarray]) -> None:
    ring = ClipRing(frames=4)
    ring.add(street[0])
    before = ring.nbytes()
    for _ in range(3):
        ring.add(street[0], still=True)
    assert len(ring) == 4 and ring.encoded == 1 and ring.nbytes() == before


def test_no_clip_frames_no_ring(street: list[np.ndarray]) -> None:
    ring = ClipRing(frames=0)
    ring.add(street[0])
    assert len(ring) == 0 and ring.clip(EvidenceConfig(clip_frames=0)) is None


def test_an_analyzer_keeps_no_raw_frame(street: list[np.ndarray], repo: Path) -> None:
    rules = load_rules(repo / "configs/rules.yaml").active()
    analyzer = CameraAnalyzer("cam-1", [], rules)
    for t, image in enumerate(street):
        detections = Detections.empty() if analyzer.should_detect(float(t), image) else None
        analyzer.process(float(t), image, detections)
    parts = analyzer.nbytes()
    assert set(parts) == {"clip_ring", "tracker", "static", "rules", "motion"}
    held = deep_nbytes(analyzer)
    # the raw ring alone was 12 × 1.5 MB; what is left is the 320-px backgrounds + JPEGs
    assert held < 4 * street[0].nbytes, held
    assert sum(parts.values()) <= held * 1.05
    assert parts["static"] > 1_000_000  # the backgrounds are counted (float32 at 320 px)
