"""Detections as parallel numpy arrays (the shape of roboflow/supervision's ``Detections``).

One :class:`Detections` holds every box found on one frame: ``xyxy`` in pixels, a
``confidence`` and a ``class_id`` per row, and ``labels``: the rules' vocabulary word of
each row ("person", "car", "bag", ...). Model adapters (ultralytics results to
``Detections``) live in :mod:`edge_agent.detector`, so this module needs only numpy.

>>> d = Detections(np.array([[0, 0, 10, 10], [5, 5, 20, 30]], np.float32),
...                np.array([0.9, 0.4], np.float32), np.array([0, 2]), ("person", "car"))
>>> len(d[d.confidence > 0.5]), d[d.confidence > 0.5].labels
(1, ('person',))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Detections:
    """Boxes on one frame: ``xyxy`` (N, 4) pixels, ``confidence`` (N,), ``class_id`` (N,).

    ``labels`` holds the vocabulary word of each row (``len(labels) == N``). Index with a
    boolean mask or an integer array to select rows.
    """

    xyxy: FloatArray
    confidence: FloatArray
    class_id: IntArray
    labels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "xyxy", np.asarray(self.xyxy, dtype=np.float32))
        object.__setattr__(self, "confidence", np.asarray(self.confidence, dtype=np.float32))
        object.__setattr__(self, "class_id", np.asarray(self.class_id, dtype=np.int64))
        object.__setattr__(self, "labels", tuple(self.labels))
        n = len(self.xyxy)
        if self.xyxy.ndim != 2 or self.xyxy.shape[1:] != (4,):
            if not (self.xyxy.size == 0 and n == 0):
                raise ValueError(f"xyxy must have shape (N, 4), got {self.xyxy.shape}")
            object.__setattr__(self, "xyxy", self.xyxy.reshape(0, 4))
        for name in ("confidence", "class_id"):
            shape = getattr(self, name).shape
            if shape != (n,):
                raise ValueError(f"{name} must have shape ({n},) like xyxy, got {shape}")
        if len(self.labels) != n:
            raise ValueError(f"labels must have {n} entries like xyxy, got {len(self.labels)}")

    @classmethod
    def empty(cls) -> Detections:
        """No boxes."""
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))

    @classmethod
    def from_lists(
        cls,
        boxes: Sequence[Sequence[float]],
        labels: Sequence[str],
        confidence: Sequence[float] | None = None,
        class_id: Sequence[int] | None = None,
    ) -> Detections:
        """Build from plain lists (tests, blobs): confidence defaults to 1, class_id to -1."""
        n = len(boxes)
        return cls(
            np.asarray(boxes, np.float32).reshape(n, 4),
            np.asarray(confidence if confidence is not None else [1.0] * n, np.float32),
            np.asarray(class_id if class_id is not None else [-1] * n, np.int64),
            tuple(labels),
        )

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index: BoolArray | IntArray | slice) -> Detections:
        rows = np.arange(len(self))[index]
        return Detections(
            self.xyxy[rows],
            self.confidence[rows],
            self.class_id[rows],
            tuple(self.labels[i] for i in rows),
        )

    def with_labels(self, *labels: str) -> Detections:
        """The rows whose vocabulary word is one of ``labels``."""
        wanted = set(labels)
        return self[np.array([lab in wanted for lab in self.labels], dtype=bool)]

    @staticmethod
    def merge(parts: Sequence[Detections]) -> Detections:
        """Concatenate the rows of several ``Detections``."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return Detections.empty()
        return Detections(
            np.concatenate([p.xyxy for p in parts]),
            np.concatenate([p.confidence for p in parts]),
            np.concatenate([p.class_id for p in parts]),
            tuple(lab for p in parts for lab in p.labels),
        )

    def bottom_center(self) -> FloatArray:
        """(N, 2) foot points: the middle of each box's bottom edge."""
        return np.stack([(self.xyxy[:, 0] + self.xyxy[:, 2]) / 2, self.xyxy[:, 3]], axis=1)

    def normalized(self, width: int, height: int) -> FloatArray:
        """``xyxy`` divided by the image size and clipped to 0..1."""
        scale = np.array([width, height, width, height], np.float32)
        return np.clip(self.xyxy / scale, 0.0, 1.0)


def box_iou(a: FloatArray, b: FloatArray) -> FloatArray:
    """IoU matrix (len(a), len(b)) of two xyxy arrays."""
    a = a.reshape(-1, 4)
    b = b.reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0).astype(np.float32)


def box_coverage(a: FloatArray, b: FloatArray) -> FloatArray:
    """(len(a), len(b)): the share of each box in ``a`` covered by each box in ``b``."""
    a = a.reshape(-1, 4)
    b = b.reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    return (inter / np.maximum(area_a[:, None], 1e-9)).astype(np.float32)
