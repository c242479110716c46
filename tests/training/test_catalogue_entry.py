"""``model train`` adds its model to the catalogue without losing the file's comments and
anchors; ``model compare`` prints the difference per rule."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from edge_agent.catalogue import ModelEntry, load_catalogue
from training.compare import difference, table
from training.train import TrainingError, add_entry, dataset_classes

TUNED = ModelEntry(
    name="yolo26n-ft-test",
    weights="yolo26n-ft-test.pt",
    weights_dir=Path("models/weights"),
    imgsz=160,
    classes=["pile", "garbage_bag", "person"],
    vocabulary={"pile": "pile", "garbage_bag": "garbage_bag", "person": "person"},
    description="fine-tuned in a test",
)


def test_add_entry_keeps_the_file_and_validates(repo: Path, tmp_path: Path) -> None:
    path = tmp_path / "catalogue.yaml"
    shutil.copyfile(repo / "models/catalogue.yaml", path)
    before = path.read_text(encoding="utf-8")
    add_entry(path, TUNED)
    after = path.read_text(encoding="utf-8")
    assert after.startswith(before.rstrip("\n"))  # comments, anchors, entries: all kept
    cat = load_catalogue(path)
    assert cat.default == "yolo26n" and cat.get("yolov8n").classes == cat.get("yolo26n").classes
    got = cat.get("yolo26n-ft-test")
    assert got == TUNED and got.words() >= {"pile", "garbage_bag", "person", "object"}
    assert got.weights_path() == Path("models/weights/yolo26n-ft-test.pt")

    add_entry(path, TUNED.model_copy(update={"name": "second"}), set_default=True)
    assert load_catalogue(path).default == "second"
    with pytest.raises(TrainingError):  # the same name twice does not validate
        add_entry(path, TUNED)
    assert load_catalogue(path).default == "second"  # the file was left as it was


def test_dataset_classes_come_from_the_card(tmp_path: Path) -> None:
    with pytest.raises(TrainingError):
        dataset_classes(tmp_path)
    (tmp_path / "data.yaml").write_text("names: {0: pile, 1: person, 2: thing}\n")
    assert dataset_classes(tmp_path) == (
        ["pile", "person", "thing"],
        {"pile": "pile", "person": "person"},
    )


def test_compare_table_shows_the_difference_per_rule() -> None:
    a = {
        "totals": {"recall": 0.5, "precision": 0.5, "false_per_camera_hour": 2.0},
        "per_rule": {"dumping": {"starts": 2, "hits": 1, "false_events": 1, "premature_ends": 0}},
    }
    b = {
        "totals": {"recall": 1.0, "precision": 1.0, "false_per_camera_hour": 0.0},
        "per_rule": {"pile": {"starts": 2, "hits": 2, "false_events": 0, "premature_ends": 0}},
    }
    diff = difference(a, b)
    assert diff["dumping"] == {"starts": -2, "hits": -1, "false_events": -1, "premature_ends": 0}
    assert diff["pile"]["hits"] == 2
    text = "\n".join(table("yolo26n", a, "tuned", b))
    assert "dumping" in text and "pile" in text and "recall" in text and "+2" in text
