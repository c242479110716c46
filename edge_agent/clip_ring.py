"""The frames a START event's clip is made of, kept compressed until an event needs them.

A camera's analyzer used to keep its last ``evidence.clip_frames`` analysed frames as
raw BGR arrays (12 × 1.5 MB at 960×540: about 19 MB a camera, 40 GB at 2,000 cameras)
only so that a START event, which is rare, could have a clip. :class:`ClipRing` keeps
the same frames as small JPEGs instead (quality ``evidence.clip_jpeg_quality``, at the
analysis size, so the clip shows the same frames at the same size), in a bounded ring;
the MP4 is built from them only when an event fires (:meth:`ClipRing.clip`).

Why JPEGs and not the stream's own packets (what "smart record" in video platforms
remuxes): the packets live in the ingest worker processes, the analyzer gets decoded
frames, and a sampled frame is often not a keyframe (a P-frame alone cannot be remuxed).
One JPEG per sample costs a few milliseconds of CPU (measured by ``gridwatch bench
edge``: ``clip_jpeg_ms``) and about 50 KB.

>>> ring = ClipRing(frames=12, quality=70)
>>> ring.add(np.zeros((540, 960, 3), np.uint8))
>>> len(ring), ring.nbytes() < 20_000
(1, True)
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

from edge_agent.config import EvidenceConfig

Image = npt.NDArray[np.uint8]


class ClipRing:
    """The last ``frames`` samples of one camera as JPEG bytes (oldest dropped first)."""

    def __init__(self, frames: int, quality: int = 70) -> None:
        self.frames = frames
        self.quality = quality
        self._jpegs: deque[bytes] = deque(maxlen=max(1, frames))
        self.encode_s = 0.0  # CPU-bound time spent compressing, for the benchmark
        self.encoded = 0

    @classmethod
    def for_config(cls, config: EvidenceConfig) -> ClipRing:
        return cls(config.clip_frames, config.clip_jpeg_quality)

    def __len__(self) -> int:
        return len(self._jpegs)

    def add(self, image: Image, *, still: bool = False) -> None:
        """Compress one sampled frame into the ring (nothing when clips are off).

        ``still``: the motion gate found the scene unchanged since the last frame, so
        the last JPEG stands for this one too (no encoding, no new bytes).
        """
        if self.frames <= 0:
            return
        if still and self._jpegs:
            self._jpegs.append(self._jpegs[-1])
            return
        started = time.perf_counter()
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        self.encode_s += time.perf_counter() - started
        self.encoded += 1
        if ok:
            self._jpegs.append(buf.tobytes())

    def images(self) -> list[Image]:
        """The frames decoded again, oldest first (for the MP4)."""
        out = []
        for data in self._jpegs:
            image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            if image is not None:
                out.append(np.asarray(image, np.uint8))
        return out

    def clip(self, config: EvidenceConfig) -> bytes | None:
        """The MP4 of the ring's frames within ``config``'s bounds (None: no frames)."""
        from edge_agent.evidence import clip_mp4

        return clip_mp4(self.images(), config)

    def nbytes(self) -> int:
        """Memory held: the distinct JPEGs (a still frame shares its predecessor's)."""
        unique = {id(j): j for j in self._jpegs}
        return sum(sys.getsizeof(j) for j in unique.values())

    def jpegs(self) -> Sequence[bytes]:
        return tuple(self._jpegs)
