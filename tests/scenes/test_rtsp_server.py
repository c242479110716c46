"""The RTSP test server behaves like a live camera, read by PyAV over real sockets."""

from __future__ import annotations

import contextlib
import itertools
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import av
import pytest

from gridwatch.scenes import encode
from gridwatch.scenes.server import RtspServer, RtspServerError

pytestmark = pytest.mark.rtsp

OPTIONS = {"rtsp_transport": "tcp", "analyzeduration": "0", "probesize": "32", "timeout": "5000000"}


def _open(url: str) -> av.container.InputContainer:
    return av.open(url, options=OPTIONS, timeout=(5, 5))


def test_encode_writes_fixed_gop_annexb_and_sidecar(rtsp_clips: Path) -> None:
    meta = json.loads((rtsp_clips / "cam720.json").read_text())
    assert meta == {"fps": 25, "gop": 25, "width": 1280, "height": 720, "frames": 75}
    data = (rtsp_clips / "cam720.h264").read_bytes()
    assert data.startswith(b"\x00\x00\x00\x01")  # Annex-B start code
    with av.open(str(rtsp_clips / "cam720.h264")) as container:
        keys = [i for i, p in enumerate(container.demux(video=0)) if p.size and p.is_keyframe]
    assert keys == [0, 25, 50]


def test_stream_loops_like_a_live_camera(rtsp_server: RtspServer) -> None:
    """Across the clip's end (75 frames) pts keep rising and keyframes keep decoding."""
    assert set(rtsp_server.mounts) == {"cam720", "gop50"}
    pts: list[int] = []
    keyframes: list[int] = []
    started = time.monotonic()
    with _open(rtsp_server.url("cam720")) as container:
        stream = container.streams.video[0]
        for packet in container.demux(stream):
            assert packet.size > 0, "the server ended the stream"
            if packet.pts is None:
                continue
            if packet.is_keyframe:
                keyframes.append(len(pts))
                frames = stream.codec_context.decode(packet)
                assert [f.height for f in frames] == [720]
            pts.append(packet.pts)
            if len(pts) >= 105:
                break
    elapsed = time.monotonic() - started
    steps = {b - a for a, b in itertools.pairwise(pts)}
    assert steps == {90_000 // 25}, "pts must rise by exactly one frame, loop or not"
    first = keyframes[0]
    assert keyframes == list(range(first, 105, 25)) and first <= 25
    assert any(k > 75 for k in keyframes), "read past the loop boundary"
    assert elapsed > 105 / 25 * 0.7, f"served faster than real time ({elapsed:.1f} s)"


def test_fifty_clients_share_one_live_camera(rtsp_server: RtspServer) -> None:
    def read(_: int) -> int:
        with _open(rtsp_server.url("gop50")) as container:
            count = 0
            for packet in container.demux(video=0):
                assert packet.size > 0
                count += 1
                if count == 10:
                    return count
        return count

    with ThreadPoolExecutor(max_workers=50) as pool:
        counts = list(pool.map(read, range(50)))
    assert counts == [10] * 50


def test_kill_and_restart_on_same_port(
    rtsp_server_factory: Callable[..., RtspServer],
) -> None:
    server = rtsp_server_factory()
    port, url = server.port, server.url("cam720")
    with _open(url) as container:
        packets = container.demux(video=0)
        assert next(packets).size > 0
        server.kill()
        # A killed server ends the stream (empty packet or error) at once, never a hang.
        killed = time.monotonic()
        with contextlib.suppress(av.FFmpegError, OSError):
            for packet in packets:
                if packet.size == 0:
                    break
        assert time.monotonic() - killed < 2
    with pytest.raises(av.error.ConnectionRefusedError):
        _open(url)
    server.restart()
    assert server.port == port
    with _open(url) as container:
        assert sum(1 for _, p in zip(range(5), container.demux(video=0), strict=False)) == 5


def test_start_fails_clearly_without_clips(tmp_path: Path) -> None:
    from gridwatch.scenes.testing import require_gstreamer

    require_gstreamer()
    with pytest.raises(RtspServerError, match=r"no \*\.h264 clips"):
        RtspServer(tmp_path).start()


def test_start_names_the_packages_when_python_lacks_gi(tmp_path: Path) -> None:
    # The venv's Python has no gi: exactly the situation the message must explain.
    import sys

    with pytest.raises(RtspServerError, match=r"gir1\.2-gst-rtsp-server-1\.0"):
        RtspServer(tmp_path, python=sys.executable).start()


def test_sidecar_sets_the_frame_rate(
    tmp_path: Path, rtsp_server_factory: Callable[..., RtspServer]
) -> None:
    encode.encode_h264(
        encode.testsrc_frames(320, 240, 2, 10), tmp_path / "slow.h264", 10, 10, preset="ultrafast"
    )
    server = rtsp_server_factory(directory=tmp_path, fps=25)
    with _open(server.url("slow")) as container:
        packets = [p for _, p in zip(range(6), container.demux(video=0), strict=False)]
    pts = [p.pts for p in packets if p.pts is not None]
    steps = {b - a for a, b in itertools.pairwise(pts)}
    assert steps == {90_000 // 10}
