"""The training vocabulary, the labels of reviewed frames and the split by camera."""

from __future__ import annotations

from pathlib import Path

import pytest

from gridwatch.config import ConfigError, load_model
from training.dataset import NEGATIVE, POSITIVE, TRAIN, VAL, Label, labels_of, split_by_camera
from training.vocabulary import TrainingVocabulary, load_vocabulary


def test_the_committed_vocabulary_loads(repo: Path) -> None:
    vocab = load_vocabulary(repo / "configs/training.yaml")
    assert vocab.event_class("01-03", "object") == "pile"
    assert vocab.event_class("01-03", "bag") == "garbage_bag"
    assert vocab.event_class("05-01", "umbrella") == "stall"
    assert vocab.event_class("05-05", "person") is None
    assert vocab.context_class("person", 0.9) == "person"
    assert vocab.context_class("person", 0.1) is None  # too unsure to teach
    assert vocab.words()["garbage_bag"] == "garbage_bag" and vocab.class_id("pile") == 0


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("classes: [{name: pile, word: heap}]", "classes.0.word"),
        ("classes: [{name: pile, word: pile}]\nevents: {'01-03': {object: rubbish}}", ""),
        ("classes: [{name: pile, word: pile}, {name: pile, word: pile}]", "classes"),
        ("classes: [{name: Pile, word: pile}]", "classes.0.name"),
    ],
)
def test_bad_vocabularies_are_refused(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "training.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_model(TrainingVocabulary, path)
    assert info.value.issues[0].key_path == key


FRAME = {
    "width": 640,
    "height": 360,
    "boxes": [{"cls": "object", "conf": 0.5, "xyxy": [192, 278, 242, 314]}],
    "seen": [
        {"cls": "object", "conf": 0.5, "xyxy": [192, 278, 242, 314]},  # the event's own
        {"cls": "person", "conf": 0.8, "xyxy": [400, 100, 450, 300]},
        {"cls": "person", "conf": 0.2, "xyxy": [10, 100, 50, 300]},  # unsure: unlabelled
        {"cls": "bench", "conf": 0.9, "xyxy": [500, 200, 600, 300]},  # not a context word
    ],
}


def test_confirmed_events_label_their_boxes_and_keep_context(repo: Path) -> None:
    vocab = load_vocabulary(repo / "configs/training.yaml")
    labels = labels_of(POSITIVE, "01-03", FRAME, vocab)
    assert labels == (Label("pile", (192, 278, 242, 314)), Label("person", (400, 100, 450, 300)))


def test_false_positives_lose_their_box_but_keep_context(repo: Path) -> None:
    vocab = load_vocabulary(repo / "configs/training.yaml")
    assert labels_of(NEGATIVE, "01-03", FRAME, vocab) == (Label("person", (400, 100, 450, 300)),)
    # A positive the vocabulary cannot name is left out, not exported unlabelled.
    assert labels_of(POSITIVE, "05-05", FRAME, vocab) is None


def test_split_keeps_each_camera_on_one_side() -> None:
    cameras = [f"cam-{i:03d}" for i in range(200)]
    split = split_by_camera(cameras + cameras[:50], 0.2)
    assert set(split) == set(cameras)
    share = sum(v == VAL for v in split.values()) / len(split)
    assert 0.1 < share < 0.3
    assert split == split_by_camera(list(reversed(cameras)), 0.2)  # stable
    two = split_by_camera(["a", "b"], 0.2)
    assert sorted(two.values()) == [TRAIN, VAL]  # neither side empty
    assert split_by_camera(["a"], 0.2) == {"a": TRAIN}
