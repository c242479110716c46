"""What ingest hands on: camera sources in, frames out, through one shared slot per camera.

Each camera has exactly one :class:`FrameSlot`, a ``multiprocessing.shared_memory``
segment that holds its latest frame. The reader process writes into it; the consumer (the
agent's main process) copies out of it once. Nothing queues: a frame not taken before the
next one arrives is overwritten and counted as dropped, so a slow consumer costs frames,
never memory.

A slot is a seqlock: the writer makes the sequence number odd while it writes and even
when the frame is whole; a reader that sees an odd number, or a different number after
copying, has raced the writer and discards what it copied (a newer frame is on its way).

The pool creates every slot with room for ``max_side × max_side`` BGR pixels; tmpfs only
backs the pages that are written, so a 960×540 frame uses 1.5 MB of memory, not 2.7 MB.

    >>> slot = FrameSlot.create(max_side=320)
    >>> writer = FrameSlot.attach(slot.name)
    >>> writer.write(np.zeros((180, 320, 3), np.uint8), pts_s=0.0, t_wall=0.0, keyframe=True)
    False
    >>> slot.read("cam1").seq
    1
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from multiprocessing import shared_memory

import numpy as np

# Header: int64 [seq, taken, height, width, keyframe, reserved], float64 [pts_s, t_wall].
_INTS = 6
_FLOATS = 2
_HEADER = 8 * (_INTS + _FLOATS)
_SEQ, _TAKEN, _H, _W, _KEY = range(5)


@dataclass(frozen=True)
class CameraSource:
    """One camera to read: its id, its URL (may carry a password) and how often to look."""

    camera_id: str
    url: str
    analysis_interval_s: float

    def __post_init__(self) -> None:
        if self.analysis_interval_s <= 0:
            raise ValueError(
                f"camera {self.camera_id}: analysis_interval_s must be > 0, "
                f"got {self.analysis_interval_s}"
            )

    def __repr__(self) -> str:  # never print the password
        from gridwatch.secrets import mask_url

        return (
            f"CameraSource(camera_id={self.camera_id!r}, url={mask_url(self.url)!r}, "
            f"analysis_interval_s={self.analysis_interval_s!r})"
        )


@dataclass
class Frame:
    """One frame due for analysis: BGR ``uint8`` ``H×W×3``, already shrunk for analysis.

    ``seq`` counts the frames the camera's slot has carried (gaps are drops); ``t_wall`` is
    Unix time at decode, ``pts_s`` the stream time (restarts on reconnect).
    """

    camera_id: str
    seq: int
    t_wall: float
    pts_s: float
    keyframe: bool
    image: np.ndarray


def analysis_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """The (width, height) a frame is shrunk to for analysis: longer side at most
    ``max_side``, never enlarged, both even (swscale's chroma handling stays exact).

    >>> analysis_size(1920, 1080, 960)
    (960, 540)
    """
    scale = min(1.0, max_side / max(width, height))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def slot_bytes(max_side: int) -> int:
    """Bytes a slot needs for frames whose longer side is at most ``max_side``."""
    return _HEADER + max_side * max_side * 3


class FrameSlot:
    """One camera's latest-frame slot in shared memory (see the module docstring)."""

    def __init__(self, shm: shared_memory.SharedMemory, owner: bool) -> None:
        self._shm = shm
        self.owner = owner
        buf = shm.buf
        assert buf is not None
        self._ints = np.ndarray((_INTS,), dtype=np.int64, buffer=buf, offset=0)
        self._floats = np.ndarray((_FLOATS,), dtype=np.float64, buffer=buf, offset=8 * _INTS)
        self._data = np.ndarray((shm.size - _HEADER,), dtype=np.uint8, buffer=buf, offset=_HEADER)

    @classmethod
    def create(cls, max_side: int, name: str | None = None) -> FrameSlot:
        shm = shared_memory.SharedMemory(name=name, create=True, size=slot_bytes(max_side))
        slot = cls(shm, owner=True)
        slot._ints[:] = 0
        return slot

    @classmethod
    def attach(cls, name: str) -> FrameSlot:
        return cls(shared_memory.SharedMemory(name=name), owner=False)

    @property
    def name(self) -> str:
        return self._shm.name

    @property
    def seq(self) -> int:
        """Frames written so far (the writer's count, whole frames only)."""
        return int(self._ints[_SEQ]) // 2

    def write(self, image: np.ndarray, *, pts_s: float, t_wall: float, keyframe: bool) -> bool:
        """Store ``image`` (BGR ``H×W×3`` uint8); True if it overwrote a frame never taken."""
        height, width = image.shape[:2]
        size = height * width * 3
        if size > self._data.size:
            raise ValueError(f"frame {width}×{height} does not fit a {self._data.size}-byte slot")
        seq = int(self._ints[_SEQ])
        dropped = seq > 0 and int(self._ints[_TAKEN]) != seq
        self._ints[_SEQ] = seq + 1  # odd: writing
        self._data[:size].reshape(height, width, 3)[...] = image
        self._ints[_H], self._ints[_W], self._ints[_KEY] = height, width, int(keyframe)
        self._floats[0], self._floats[1] = pts_s, t_wall
        self._ints[_SEQ] = seq + 2  # even: whole
        return dropped

    def read(self, camera_id: str) -> Frame | None:
        """Copy out the latest frame if it is whole and not taken yet, and mark it taken."""
        seq = int(self._ints[_SEQ])
        if seq == 0 or seq % 2 or seq == int(self._ints[_TAKEN]):
            return None
        height, width = int(self._ints[_H]), int(self._ints[_W])
        image = self._data[: height * width * 3].reshape(height, width, 3).copy()
        keyframe = bool(self._ints[_KEY])
        pts_s, t_wall = float(self._floats[0]), float(self._floats[1])
        if int(self._ints[_SEQ]) != seq:
            return None  # torn: the writer started the next frame while we copied
        self._ints[_TAKEN] = seq
        return Frame(camera_id, seq // 2, t_wall, pts_s, keyframe, image)

    def has_new(self) -> bool:
        seq = int(self._ints[_SEQ])
        return seq > 0 and seq % 2 == 0 and seq != int(self._ints[_TAKEN])

    def close(self) -> None:
        """Unmap; the owner also removes the segment (attached users keep their mapping)."""
        # numpy views pin the buffer: drop them before closing the mapping.
        del self._ints, self._floats, self._data
        with contextlib.suppress(BufferError):
            self._shm.close()
        if self.owner:
            with contextlib.suppress(FileNotFoundError):
                self._shm.unlink()
