"""A START event's clean frame: the picture a model can learn from, and its boxes.

The annotated snapshot has boxes, labels and the zone burnt in; a training image must
not. So every START also carries the analysis frame as it was decoded (JPEG, nothing
drawn), the event's boxes in that frame's pixels, everything the detector and the static
objects reported on it (so a training set can keep labelling persons and cars the
operators never reviewed), and the appearance signature of the event's place, which
the aggregator compares with rejected events (:mod:`gridwatch.appearance`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from edge_agent.detections import Detections
from edge_agent.events import FRAME, CleanFrame
from edge_agent.evidence import snapshot_jpeg
from gridwatch.appearance import signature
from gridwatch.protocol import FramePayload, PixelBox

Image = npt.NDArray[np.uint8]
LabelledBox = tuple[str, float, Sequence[float]]  # word, confidence, pixel xyxy

MAX_SEEN = 500  # the protocol's bound on FramePayload.seen


def _pixel_box(word: str, conf: float, box: Sequence[float], w: int, h: int) -> PixelBox:
    x1, y1, x2, y2 = (
        int(np.clip(round(float(v)), 0, lim)) for v, lim in zip(box, (w, h, w, h), strict=True)
    )
    return PixelBox(cls=word[:64], conf=float(np.clip(conf, 0.0, 1.0)), xyxy=(x1, y1, x2, y2))


def clean_frame(
    image: Image,
    boxes: Sequence[LabelledBox],
    seen: Detections,
    place: Sequence[float],
    quality: int = 85,
) -> CleanFrame:
    """The clean frame of an event found on ``image`` (BGR, not drawn on).

    ``boxes`` are the event's parts, ``seen`` what the rules were given on this frame,
    ``place`` the incident's pixel box whose appearance the signature records.
    """
    h, w = image.shape[:2]
    seen_boxes = [
        _pixel_box(word, float(conf), box, w, h)
        for word, conf, box in zip(seen.labels, seen.confidence, seen.xyxy, strict=True)
    ][:MAX_SEEN]
    payload = FramePayload(
        blob=FRAME,
        width=w,
        height=h,
        boxes=[_pixel_box(word, conf, box, w, h) for word, conf, box in boxes][:200],
        seen=seen_boxes,
        signature=signature(image, place),
    )
    return CleanFrame(snapshot_jpeg(image, quality), payload)
