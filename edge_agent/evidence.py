"""Evidence for an event: an annotated JPEG and a short H.264 clip, both in memory.

The JPEG shows the frame with the event's boxes, their labels (ASCII, drawn with
OpenCV: no font downloads) and the zone polygon. The clip holds the last analysed
frames of the camera leading to the event, bounded by ``EvidenceConfig``: when it is
over ``clip_max_bytes`` it is re-encoded smaller (fewer frames, then half size).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from edge_agent.config import EvidenceConfig

Image = npt.NDArray[np.uint8]
LabelledBox = tuple[str, float, tuple[float, float, float, float]]  # word, conf, pixel xyxy

_ZONE = (0, 200, 255)
_BOX = (0, 0, 255)


def annotate(
    image: Image,
    boxes: Sequence[LabelledBox],
    zone: Sequence[tuple[float, float]] | None = None,
    title: str = "",
) -> Image:
    """A copy of ``image`` with the zone (normalized polygon), boxes and labels drawn."""
    out = image.copy()
    h, w = out.shape[:2]
    thick = max(1, round(w / 640))
    if zone:
        pts = np.array([[x * w, y * h] for x, y in zone], np.int32)
        cv2.polylines(out, [pts], True, _ZONE, thick)
    for word, conf, (x1, y1, x2, y2) in boxes:
        p1, p2 = (int(x1), int(y1)), (int(x2), int(y2))
        cv2.rectangle(out, p1, p2, _BOX, thick + 1)
        text = f"{word} {conf:.2f}".encode("ascii", "replace").decode()
        cv2.putText(
            out,
            text,
            (p1[0], max(12, p1[1] - 4)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.45 * thick,
            _BOX,
            thick,
            cv2.LINE_AA,
        )
    if title:
        text = title.encode("ascii", "replace").decode()
        cv2.putText(
            out,
            text,
            (8, 20 * thick),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.6 * thick,
            (255, 255, 255),
            thick + 1,
            cv2.LINE_AA,
        )
    return out


def crop_around_box(
    image: Image, box: tuple[float, float, float, float], pad: float = 0.5
) -> Image:
    """The part of ``image`` around a pixel ``box``, grown by ``pad`` × its size each side."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = box
    dx, dy = (x2 - x1) * pad, (y2 - y1) * pad
    X1, Y1 = max(0, int(x1 - dx)), max(0, int(y1 - dy))
    X2, Y2 = min(w, int(np.ceil(x2 + dx))), min(h, int(np.ceil(y2 + dy)))
    if X2 <= X1 or Y2 <= Y1:
        return image[:1, :1]
    return image[Y1:Y2, X1:X2]


def crop_jpeg(image: Image, min_side: int = 96, quality: int = 85) -> bytes:
    """A small JPEG of a crop, enlarged so its shorter side is at least ``min_side``."""
    h, w = image.shape[:2]
    scale = max(1.0, min_side / max(1, min(h, w)))
    if scale > 1.0:
        size = (round(w * scale), round(h * scale))
        image = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_CUBIC), np.uint8)
    return snapshot_jpeg(image, quality)


def snapshot_jpeg(image: Image, quality: int = 85) -> bytes:
    """JPEG bytes of ``image`` (BGR)."""
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"cannot encode a {image.shape} image as JPEG")
    return buf.tobytes()


def _encode_mp4(frames: Sequence[Image], fps: float, scale: float) -> bytes:
    import av

    h, w = frames[0].shape[:2]
    width, height = max(16, int(w * scale) // 2 * 2), max(16, int(h * scale) // 2 * 2)
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=max(1, round(fps)))
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "28"}
        for i, image in enumerate(frames):
            sized: npt.NDArray[Any] = image
            if image.shape[:2] != (height, width):
                sized = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
            frame = av.VideoFrame.from_ndarray(sized, format="bgr24")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return buf.getvalue()


def clip_mp4(frames: Sequence[Image], config: EvidenceConfig, fps: float = 1.0) -> bytes | None:
    """An H.264 MP4 of ``frames`` within ``config``'s frame and byte bounds (None: no clip).

    Frames are the sampled ones (about one a second), so the clip plays at ``fps``.
    Too large: keep every other frame, then halve the size, until it fits.
    """
    frames = list(frames)[-config.clip_frames :] if config.clip_frames else []
    if not frames:
        return None
    scale = 1.0
    while True:
        data = _encode_mp4(frames, fps, scale)
        if len(data) <= config.clip_max_bytes:
            return data
        if len(frames) > 2:
            frames = frames[1::2]
        elif scale > 0.1:
            scale /= 2
        else:
            return None
