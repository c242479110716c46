"""Detections: shapes are validated, masks select rows, helpers keep rows aligned."""

from __future__ import annotations

import numpy as np
import pytest

from edge_agent.detections import Detections, box_coverage, box_iou


def _two() -> Detections:
    return Detections.from_lists([[0, 0, 10, 10], [5, 5, 25, 45]], ["person", "car"], [0.9, 0.4])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"xyxy": np.zeros((2, 3))}, r"xyxy must have shape \(N, 4\), got \(2, 3\)"),
        ({"confidence": np.zeros(3)}, r"confidence must have shape \(2,\) like xyxy, got \(3,\)"),
        ({"class_id": np.zeros(1)}, r"class_id must have shape \(2,\)"),
        ({"labels": ("a",)}, "labels must have 2 entries like xyxy, got 1"),
    ],
)
def test_shape_errors_state_expected_and_actual(kwargs: dict[str, object], message: str) -> None:
    base = {
        "xyxy": np.zeros((2, 4)),
        "confidence": np.zeros(2),
        "class_id": np.zeros(2),
        "labels": ("a", "b"),
    }
    with pytest.raises(ValueError, match=message):
        Detections(**{**base, **kwargs})  # type: ignore[arg-type]


def test_mask_and_label_selection() -> None:
    d = _two()
    assert d[d.confidence > 0.5].labels == ("person",)
    assert len(d.with_labels("car")) == 1 and d.with_labels("car").xyxy[0, 3] == 45
    assert len(d[np.zeros(2, bool)]) == 0


def test_empty_and_merge() -> None:
    assert len(Detections.empty()) == 0 and Detections.empty().xyxy.shape == (0, 4)
    merged = Detections.merge([_two(), Detections.empty(), _two()])
    assert len(merged) == 4 and merged.labels[2] == "person"


def test_geometry_helpers() -> None:
    d = _two()
    assert d.bottom_center().tolist() == [[5, 10], [15, 45]]
    assert d.normalized(100, 100)[1].tolist() == pytest.approx([0.05, 0.05, 0.25, 0.45])
    iou = box_iou(d.xyxy, d.xyxy)
    assert iou[0, 0] == pytest.approx(1.0) and 0 < iou[0, 1] < 1
    assert box_coverage(d.xyxy[:1], d.xyxy[1:])[0, 0] == pytest.approx(0.25)
