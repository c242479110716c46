"""Batched YOLO detection (ultralytics), mapped onto the rules' vocabulary.

ultralytics and torch are imported lazily inside :class:`Detector`, so ``gridwatch
--help`` and ``config check`` stay fast. Weights are loaded by explicit path from the
catalogue entry (``$GRIDWATCH_WEIGHTS_DIR``); nothing is downloaded.

Export (``DetectorConfig.export``): ``onnx`` builds an fp32 ONNX file on the CPU (works
offline with onnx and onnxslim installed); ``tensorrt`` builds an FP16 engine on a GPU
(UNTESTED here: no GPU on the build machines). Exports are cached per model, device and
input size in ``<data_dir>/engines/`` and reused.

>>> det = Detector(load_catalogue().get("yolo26n"), DetectorConfig())  # doctest: +SKIP
>>> [len(d) for d in det.detect([img_a, img_b])]  # one Detections per image  # doctest: +SKIP
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from edge_agent.catalogue import ModelEntry
from edge_agent.config import DetectorConfig
from edge_agent.detections import Detections

Image = npt.NDArray[np.uint8]


def _offline_env() -> None:
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "False")
    if "YOLO_CONFIG_DIR" not in os.environ:
        folder = Path(os.environ.get("TMPDIR", "/tmp")) / "gridwatch-yolo"
        folder.mkdir(parents=True, exist_ok=True)
        os.environ["YOLO_CONFIG_DIR"] = str(folder)


def resolve_device(device: str) -> str:
    """``auto`` → ``cuda`` when torch sees a GPU, else ``cpu``."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


OTHER = "other:"  # the label of a class the rules have no word for (``other:train``)


def to_detections(result: Any, entry: ModelEntry, unmapped: bool = False) -> Detections:
    """One ultralytics ``Results`` → :class:`Detections`; classes the rules ignore drop out,
    or (``unmapped``) come as ``other:<class>``, so a second look can tell a static
    train or bench from an unknown object."""
    boxes = result.boxes
    if boxes is None or len(boxes) == 0:
        return Detections.empty()
    class_id = boxes.cls.cpu().numpy().astype(np.int64)
    words = [entry.word_of(int(c)) for c in class_id]
    if unmapped:
        words = [
            w if w is not None else f"{OTHER}{entry.classes[int(c)]}"
            for w, c in zip(words, class_id, strict=True)
        ]
    keep = np.array([w is not None for w in words], dtype=bool)
    return Detections(
        boxes.xyxy.cpu().numpy().astype(np.float32)[keep],
        boxes.conf.cpu().numpy().astype(np.float32)[keep],
        class_id[keep],
        tuple(w for w in words if w is not None),
    )


class Detector:
    """A YOLO model from the catalogue; :meth:`detect` runs one batch."""

    def __init__(
        self,
        entry: ModelEntry,
        config: DetectorConfig | None = None,
        *,
        weights_dir: Path | None = None,
        engines_dir: Path = Path("data/engines"),
    ) -> None:
        self.entry = entry
        self.config = config or DetectorConfig()
        self.imgsz = self.config.imgsz or entry.imgsz
        _offline_env()
        from ultralytics import YOLO

        self.device = resolve_device(self.config.device)
        weights = entry.require_weights(weights_dir)
        path = self._exported(YOLO, weights, engines_dir)
        self.model = YOLO(str(path), task="detect")
        self.last_batch_s = 0.0

    def _exported(self, yolo: Any, weights: Path, engines_dir: Path) -> Path:
        kind = self.config.export
        if kind == "none":
            return weights
        suffix = ".onnx" if kind == "onnx" else ".engine"
        target = engines_dir / f"{self.entry.name}-{self.device}-{self.imgsz}{suffix}"
        if target.is_file():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        # ultralytics writes the export next to its input: work on a copy in the cache,
        # never in the (shared, maybe read-only) weights folder.
        with tempfile.TemporaryDirectory(dir=target.parent) as work:
            source = Path(work) / weights.name
            shutil.copyfile(weights, source)
            if kind == "onnx":
                made = yolo(str(source)).export(format="onnx", imgsz=self.imgsz, device="cpu")
            else:  # UNTESTED: needs a GPU with TensorRT installed
                made = yolo(str(source)).export(
                    format="engine",
                    half=True,
                    imgsz=self.imgsz,
                    device=0,
                    batch=self.config.batch_size,
                )
            Path(made).replace(target)
        return target

    def detect(
        self, images: Sequence[Image], imgsz: int | None = None, unmapped: bool = False
    ) -> list[Detections]:
        """Detections for each image (BGR), in order; batches of ``batch_size``.

        ``imgsz`` overrides the input size (the second look runs small crops smaller);
        an exported model keeps the size it was built for. ``unmapped``: keep classes the
        rules have no word for, as ``other:<class>``.
        """
        out: list[Detections] = []
        started = time.perf_counter()
        size = self.config.batch_size
        if imgsz is None or self.config.export != "none":
            imgsz = self.imgsz
        for i in range(0, len(images), size):
            results = self.model.predict(
                list(images[i : i + size]),
                imgsz=imgsz,
                conf=self.config.confidence,
                device=self.device,
                verbose=False,
            )
            out.extend(to_detections(r, self.entry, unmapped) for r in results)
        self.last_batch_s = time.perf_counter() - started
        return out

    def second_look(self, imgsz: int) -> Callable[[Sequence[Image]], list[Detections]]:
        """The function static objects use to look again at crops, at ``imgsz``."""
        return lambda crops: self.detect(crops, imgsz=imgsz, unmapped=True) if crops else []
