"""Helpers for ingest tests and benchmarks: camera-like clips for the RTSP test server."""

from __future__ import annotations

from pathlib import Path

from gridwatch.scenes.encode import encode_h264, testsrc_frames


def make_clip(
    directory: Path,
    name: str,
    *,
    gop: int,
    seconds: float = 4.0,
    fps: int = 25,
    size: tuple[int, int] = (640, 360),
) -> Path:
    """Encode ``directory/name.h264`` (fixed GOP, no B-frames); the server mounts ``name``."""
    width, height = size
    frames = testsrc_frames(width, height, seconds, fps)
    return encode_h264(frames, directory / f"{name}.h264", fps=fps, gop=gop, preset="ultrafast")
