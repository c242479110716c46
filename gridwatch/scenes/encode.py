"""Encode frames into camera-like H.264 clips that the RTSP test server can loop.

Real cameras send H.264 with a fixed keyframe interval (GOP) and no B-frames; the clips
made here do the same, so probing, keyframe-only ingest and benchmarks see what they
would see from a street camera. Output is a raw Annex-B ``.h264`` file plus a sidecar
``<stem>.json`` (``fps``, ``gop``, ``width``, ``height``, ``frames``) that
:mod:`gridwatch.scenes.rtsp_server` reads for the frame rate.

    >>> clip = encode_h264(testsrc_frames(1280, 720, 3, 25), Path("cam1.h264"), fps=25, gop=25)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def encode_h264(
    frames: Iterable[np.ndarray],
    out: Path,
    fps: int,
    gop: int,
    bitrate: int | None = None,
    *,
    preset: str = "veryfast",
) -> Path:
    """Encode BGR frames (``H×W×3`` uint8) into ``out`` (Annex-B H.264) and its sidecar.

    ``gop`` is the exact keyframe interval in frames (every keyframe an IDR, no scene-cut
    keyframes, no B-frames). ``bitrate`` in bit/s gives a target rate; without it the
    quality is constant (CRF 23). ``preset`` is x264's speed/size trade-off: tests use
    ``"ultrafast"``. Returns ``out``.
    """
    if fps <= 0 or gop <= 0:
        raise ValueError(f"fps and gop must be positive, got fps={fps} gop={gop}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    params = f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0:repeat-headers=1:sliced-threads=0"
    options = {"preset": preset, "x264-params": params}
    if bitrate is None:
        options["crf"] = "23"
    count = 0
    width = height = 0
    with av.open(str(out), mode="w", format="h264") as container:
        stream = container.add_stream("libx264", rate=fps, options=options)
        stream.pix_fmt = "yuv420p"
        if bitrate is not None:
            stream.bit_rate = bitrate
        for image in frames:
            if count == 0:
                height, width = _check_frame(image)
                stream.width, stream.height = width, height
            elif image.shape[:2] != (height, width):
                raise ValueError(f"frame {count} is {image.shape}, expected {(height, width, 3)}")
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts = count
            frame.time_base = Fraction(1, fps)
            container.mux(stream.encode(frame))
            count += 1
        if count == 0:
            raise ValueError("no frames to encode")
        container.mux(stream.encode(None))
    meta = {"fps": fps, "gop": gop, "width": width, "height": height, "frames": count}
    out.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return out


def _check_frame(image: np.ndarray) -> tuple[int, int]:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an H×W×3 uint8 BGR frame, got {image.shape} {image.dtype}")
    height, width = image.shape[:2]
    if width % 2 or height % 2:
        raise ValueError(f"yuv420p needs even width and height, got {width}×{height}")
    return height, width


def testsrc_frames(width: int, height: int, seconds: float, fps: int) -> Iterator[np.ndarray]:
    """Yield ``seconds × fps`` BGR frames of a moving synthetic pattern (cheap to make).

    A colour gradient scrolls sideways and a white box crosses the picture, so every frame
    differs (P-frames are not empty) and the motion is easy to see when debugging.
    """
    x = np.linspace(0, 255, width, dtype=np.float32)
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    base = np.empty((height, width, 3), dtype=np.uint8)
    base[..., 0] = x[None, :].astype(np.uint8)
    base[..., 1] = y.astype(np.uint8)
    base[..., 2] = ((x[None, :] + y) / 2).astype(np.uint8)
    box = max(8, min(width, height) // 8)
    total = round(seconds * fps)
    for i in range(total):
        frame = np.roll(base, shift=(i * 4) % width, axis=1)
        left = (i * 7) % max(1, width - box)
        top = (i * 3) % max(1, height - box)
        frame[top : top + box, left : left + box] = 255
        yield frame
