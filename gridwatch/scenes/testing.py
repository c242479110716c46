"""Pytest fixtures for a real RTSP camera server (a pytest plugin).

Register with ``pytest_plugins = ["gridwatch.scenes.testing"]`` in the root conftest, or
import the fixtures into a conftest or test module. Tests that use them are skipped, with
the packages to install, when the system Python lacks GStreamer's RTSP server.

- ``rtsp_clips``: a folder of short camera-like clips (session-wide, made once):
  ``cam720`` (1280×720, 25 fps, GOP 25, 3 s) and ``gop50`` (1280×720, 25 fps, GOP 50, 4 s).
- ``rtsp_server``: one running :class:`RtspServer` on those clips, shared by the session;
  do not stop or pause it.
- ``rtsp_server_factory``: ``make(**kwargs)`` starts a private server (stopped after the
  test) for tests that kill, freeze or restart it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from gridwatch.scenes.encode import encode_h264, testsrc_frames
from gridwatch.scenes.server import INSTALL_HINT, SYSTEM_PYTHON, RtspServer, gstreamer_available


class ClipSpec(NamedTuple):
    name: str
    width: int
    height: int
    seconds: float
    fps: int
    gop: int


TEST_CLIPS = (
    ClipSpec("cam720", 1280, 720, 3, 25, 25),
    ClipSpec("gop50", 1280, 720, 4, 25, 50),
)


def make_test_clips(directory: Path, clips: tuple[ClipSpec, ...] = TEST_CLIPS) -> Path:
    """Encode ``clips`` into ``directory`` (skipping those already there); the folder."""
    directory.mkdir(parents=True, exist_ok=True)
    for clip in clips:
        out = directory / f"{clip.name}.h264"
        if out.exists() and out.with_suffix(".json").exists():
            continue
        frames = testsrc_frames(clip.width, clip.height, clip.seconds, clip.fps)
        encode_h264(frames, out, fps=clip.fps, gop=clip.gop, preset="ultrafast")
    return directory


def require_gstreamer() -> None:
    """Skip the calling test when the system Python cannot run the RTSP server."""
    if not gstreamer_available():
        pytest.skip(
            f"{SYSTEM_PYTHON} cannot import GStreamer's RTSP server (gi); "
            f"install it with: {INSTALL_HINT}"
        )


@pytest.fixture(scope="session")
def rtsp_clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A fixed folder under the session's base temp dir, so every copy of this fixture
    # (imported into several modules) shares one set of clips.
    return make_test_clips(tmp_path_factory.getbasetemp() / "rtsp-clips")


@pytest.fixture(scope="session")
def rtsp_server(rtsp_clips: Path) -> Iterator[RtspServer]:
    require_gstreamer()
    with RtspServer(rtsp_clips) as server:
        yield server


@pytest.fixture
def rtsp_server_factory(rtsp_clips: Path) -> Iterator[Callable[..., RtspServer]]:
    require_gstreamer()
    started: list[RtspServer] = []

    def make(**kwargs: Any) -> RtspServer:
        kwargs.setdefault("directory", rtsp_clips)
        server = RtspServer(**kwargs).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()
