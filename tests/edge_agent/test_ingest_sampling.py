"""Sampling logic (which packets are decoded, which frames are due) on simulated streams."""

from __future__ import annotations

import random

import numpy as np
import pytest

from edge_agent.ingest.frames import CameraSource, FrameSlot
from edge_agent.ingest.reader import Backoff
from edge_agent.ingest.sampling import Mode, Sampler


def simulate(
    sampler: Sampler, fps: int, gop: int, seconds: float, start: int = 0
) -> tuple[int, int, int]:
    """Feed a fixed-GOP stream; return (keyframes, decoded, taken)."""
    keyframes = decoded = taken = 0
    for i in range(start, start + round(seconds * fps)):
        t, key = i / fps, i % gop == 0
        keyframes += key
        if sampler.on_packet(t, key):
            decoded += 1
            taken += sampler.take(t)
    return keyframes, decoded, taken


@pytest.mark.parametrize(
    ("gop", "interval", "seconds", "mode", "decoded", "taken"),
    [
        (25, 1.0, 10, Mode.KEYFRAMES, (10, 10), (10, 10)),  # every keyframe is due
        (25, 2.0, 10, Mode.KEYFRAMES, (5, 5), (5, 5)),  # every other keyframe, undecoded
        (25, 3.0, 12, Mode.KEYFRAMES, (4, 4), (4, 4)),
        (50, 2.0, 10, Mode.KEYFRAMES, (5, 5), (5, 5)),
        (30, 1.0, 12, Mode.KEYFRAMES, (10, 10), (10, 10)),  # 1.2 s GOP still fits
        (50, 0.5, 10, Mode.ALL, (201, 201), (17, 17)),  # 2 s GOP, 2 looks/s: decode all
        (50, 1.0, 10, Mode.ALL, (201, 201), (9, 9)),
        (250, 1.0, 30, Mode.ALL, (501, 501), (21, 21)),  # 10 s GOP: found by waiting
    ],
)
def test_modes(
    gop: int,
    interval: float,
    seconds: float,
    mode: Mode,
    decoded: tuple[int, int],
    taken: tuple[int, int],
) -> None:
    sampler = Sampler(interval)
    _, n_decoded, n_taken = simulate(sampler, 25, gop, seconds)
    assert sampler.mode is mode
    assert decoded[0] <= n_decoded <= decoded[1]
    assert taken[0] <= n_taken <= taken[1]


def test_gop_change_switches_mode_both_ways() -> None:
    sampler = Sampler(1.0)
    simulate(sampler, 25, 25, 4)
    assert sampler.mode is Mode.KEYFRAMES and sampler.gop_s == pytest.approx(1.0)
    simulate(sampler, 25, 100, 12, start=100)
    assert sampler.mode is Mode.ALL and sampler.gop_s == pytest.approx(4.0)
    simulate(sampler, 25, 25, 4, start=400)
    assert sampler.mode is Mode.KEYFRAMES


def test_all_mode_waits_for_a_keyframe_before_decoding() -> None:
    sampler = Sampler(0.5)
    simulate(sampler, 25, 50, 4.4)  # learned: 2 s GOP → all
    sampler.reset()  # reconnect mid-GOP
    assert not sampler.on_packet(10.04, keyframe=False)
    assert sampler.on_packet(10.08, keyframe=True)
    assert sampler.on_packet(10.12, keyframe=False)


def test_packets_without_time_decode_only_the_first_keyframe() -> None:
    sampler = Sampler(1.0)
    assert sampler.on_packet(None, keyframe=True) and sampler.take(None)
    assert not sampler.on_packet(0.04, keyframe=False)


def test_backoff_grows_with_jitter_and_caps() -> None:
    backoff = Backoff(1.0, 8.0, random.Random(1))
    delays = [backoff.next_delay() for _ in range(6)]
    assert 0.5 <= delays[0] <= 1.0 and 1.0 <= delays[1] <= 2.0
    assert all(4.0 <= d <= 8.0 for d in delays[3:])
    assert Backoff(1.0, 60.0).next_delay(factor=10) >= 5.0  # auth failures wait longer
    backoff.reset()
    assert backoff.next_delay() <= 1.0


def test_slot_keeps_one_frame_counts_drops_and_rejects_torn_reads() -> None:
    owner = FrameSlot.create(max_side=160)
    writer = FrameSlot.attach(owner.name)
    try:
        image = np.full((90, 160, 3), 7, np.uint8)
        assert not writer.write(image, pts_s=1.0, t_wall=2.0, keyframe=True)
        assert writer.write(image + 1, pts_s=2.0, t_wall=3.0, keyframe=False)  # dropped
        frame = owner.read("cam")
        assert frame is not None and frame.seq == 2 and frame.pts_s == 2.0
        assert not frame.keyframe and frame.image.shape == (90, 160, 3)
        assert int(frame.image[0, 0, 0]) == 8
        assert owner.read("cam") is None  # taken: nothing new
        assert not writer.write(image, pts_s=3.0, t_wall=4.0, keyframe=True)
        writer._ints[0] += 1  # a writer mid-frame: odd sequence number
        assert owner.read("cam") is None
        with pytest.raises(ValueError, match="does not fit"):
            writer.write(np.zeros((200, 200, 3), np.uint8), pts_s=0, t_wall=0, keyframe=True)
    finally:
        writer.close()
        owner.close()


def test_camera_source_repr_masks_password() -> None:
    source = CameraSource("cam1", "rtsp://admin:hunter2@10.0.0.7/s1", 1.0)
    assert "hunter2" not in repr(source)
    with pytest.raises(ValueError):
        CameraSource("cam1", "rtsp://x/s", 0)
