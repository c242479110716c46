"""The real detector on ultralytics' bus.jpg, and the catalogue."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge_agent.catalogue import MissingWeightsError, load_catalogue
from edge_agent.config import DetectorConfig


def test_catalogue_entries(repo: Path, tmp_path: Path) -> None:
    cat = load_catalogue(repo / "models/catalogue.yaml")
    assert cat.get().name == "yolo26n" and cat.get("yolov8n").weights == "yolov8n_from_int8.pt"
    coco = cat.get().classes
    assert len(coco) == 80 and cat.get().word_of(coco.index("suitcase")) == "bag"
    assert cat.get().word_of(coco.index("bench")) == "table"
    assert cat.get().word_of(coco.index("giraffe")) is None
    with pytest.raises(KeyError, match="unknown model"):
        cat.get("nope")
    with pytest.raises(MissingWeightsError, match="GRIDWATCH_WEIGHTS_DIR"):
        cat.get().require_weights(tmp_path)


@pytest.fixture(scope="module")
def bus() -> np.ndarray:
    import cv2

    ultralytics = pytest.importorskip("ultralytics")
    path = Path(ultralytics.__file__).parent / "assets" / "bus.jpg"
    image = cv2.imread(str(path))
    assert image is not None
    return image


@pytest.mark.yolo
def test_bus_and_persons_in_batches(weights_dir: Path, repo: Path, bus: np.ndarray) -> None:
    from edge_agent.detector import Detector

    entry = load_catalogue(repo / "models/catalogue.yaml").get()
    det = Detector(entry, DetectorConfig(device="cpu", batch_size=2), weights_dir=weights_dir)
    small = bus[::2, ::2].copy()
    results = det.detect([bus, small, bus])  # two batches: [bus, small], [bus]
    assert len(results) == 3
    labels = results[0].labels
    assert "bus" in labels and labels.count("person") >= 3
    assert results[0].xyxy.max() <= max(bus.shape) and results[0].xyxy.dtype == np.float32
    assert results[2].labels == labels


@pytest.mark.yolo
def test_onnx_export_is_made_once_and_detects(
    weights_dir: Path, repo: Path, bus: np.ndarray, tmp_path: Path
) -> None:
    pytest.importorskip("onnxruntime")
    from edge_agent.detector import Detector

    entry = load_catalogue(repo / "models/catalogue.yaml").get()
    config = DetectorConfig(device="cpu", export="onnx", imgsz=320)
    det = Detector(entry, config, weights_dir=weights_dir, engines_dir=tmp_path)
    exported = tmp_path / f"{entry.name}-cpu-320.onnx"
    assert exported.is_file()
    made = exported.stat().st_mtime_ns
    labels = det.detect([bus])[0].labels
    assert "bus" in labels and "person" in labels
    Detector(entry, config, weights_dir=weights_dir, engines_dir=tmp_path)  # reuses the cache
    assert exported.stat().st_mtime_ns == made
    assert (
        not list(weights_dir.glob("*-cpu-*"))
        and not (weights_dir / "yolo26n_from_int8.onnx").exists()
    )
