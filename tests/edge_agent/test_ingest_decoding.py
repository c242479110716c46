"""FrameDecoder: a fresh decoder per keyframe (nothing held between keyframes), a kept one
in all mode, a kept one when a keyframe cannot decode on its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edge_agent.ingest.decoding import FrameDecoder
from gridwatch.scenes.testing import make_test_clips

av = pytest.importorskip("av")


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_test_clips(tmp_path_factory.mktemp("clips")) / "cam720.h264"


def _packets(path: Path) -> tuple[Any, list[Any]]:
    container = av.open(str(path))
    stream = container.streams.video[0]
    return container, [p for p in container.demux(stream) if p.size]


def _no_parameter_sets(data: bytes) -> bytes:
    """An Annex B access unit without its SPS (7) and PPS (8) NAL units."""
    parts = data.split(b"\x00\x00\x01")
    kept = [p for p in parts[1:] if p and (p[0] & 0x1F) not in (7, 8)]
    return b"".join(b"\x00\x00\x01" + p for p in kept)


def test_keyframes_decode_alone_and_nothing_is_kept(clip: Path) -> None:
    container, packets = _packets(clip)
    with container:
        decoder = FrameDecoder(container.streams.video[0], "cam")
        keys = [p for p in packets if p.is_keyframe]
        assert len(keys) >= 3
        for packet in keys:
            (frame,) = decoder.decode(packet, keep=False)
            image = frame.to_ndarray(format="bgr24")
            assert image.shape == (720, 1280, 3) and image.std() > 10  # a real picture
            assert decoder._kept is None  # no decoder (and no frame pool) between keyframes
        assert decoder.opened == len(keys) and decoder.fresh_works


def test_all_mode_keeps_one_decoder_and_decodes_p_frames(clip: Path) -> None:
    container, packets = _packets(clip)
    with container:
        decoder = FrameDecoder(container.streams.video[0], "cam")
        frames = [f for p in packets[:30] for f in decoder.decode(p, keep=True)]
        assert len(frames) >= 28 and decoder.opened == 1 and decoder._kept is not None
        # back to keyframes mode: the kept decoder goes
        key = next(p for p in packets if p.is_keyframe)
        assert len(decoder.decode(key, keep=False)) == 1 and decoder._kept is None


def test_parameter_sets_seen_in_band_serve_later_keyframes(clip: Path) -> None:
    container, packets = _packets(clip)
    with container:
        decoder = FrameDecoder(container.streams.video[0], "cam")
        decoder.extradata = None  # the stream description carries none
        first, second = [p for p in packets if p.is_keyframe][:2]
        assert len(decoder.decode(first, keep=False)) == 1  # SPS/PPS in band: learnt
        assert decoder.extradata and decoder.extradata.startswith(b"\x00\x00\x00\x01")
        bare = av.Packet(_no_parameter_sets(bytes(second)))
        bare.is_keyframe = True
        (frame,) = decoder.decode(bare, keep=False)
        assert frame.to_ndarray(format="bgr24").std() > 10
        assert decoder.fresh_works and decoder._kept is None


def test_a_broken_keyframe_fails_as_before_and_fresh_decoding_goes_on(clip: Path) -> None:
    container, packets = _packets(clip)
    with container:
        decoder = FrameDecoder(container.streams.video[0], "cam")
        broken = av.Packet(b"\x00\x00\x01\x65" + bytes(64))  # an IDR slice of zeros
        broken.is_keyframe = True
        with pytest.raises(av.FFmpegError):
            decoder.decode(broken, keep=False)  # the error ends the connection, as before
        assert decoder.fresh_works and decoder._kept is None
        key = next(p for p in packets if p.is_keyframe)
        assert len(decoder.decode(key, keep=False)) == 1 and decoder._kept is None


def test_a_stream_whose_keyframes_need_a_kept_decoder_gets_one(
    clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    container, packets = _packets(clip)
    with container:
        decoder = FrameDecoder(container.streams.video[0], "cam")
        monkeypatch.setattr(decoder, "_fresh", lambda packet: ([], "needs earlier frames"))
        keys = [p for p in packets if p.is_keyframe]
        assert len(decoder.decode(keys[0], keep=False)) == 1  # the kept decoder did it
        assert not decoder.fresh_works and decoder._kept is not None
        kept = decoder._kept
        assert len(decoder.decode(keys[1], keep=False)) == 1 and decoder._kept is kept
