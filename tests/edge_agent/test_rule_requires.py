"""New classes reach the rules: a fine-tuned model's classes map onto rule words through
the catalogue, and a rule that requires them runs only with a model that has them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from edge_agent.analyzer import CameraAnalyzer
from edge_agent.catalogue import Catalogue, ModelEntry, load_catalogue
from edge_agent.config import StaticConfig
from edge_agent.detections import Detections
from edge_agent.rules.config import RuleSpec, for_model, load_rules

TUNED = ModelEntry(
    name="tuned", weights="tuned.pt", classes=["pile", "garbage_bag", "person", "stall"],
    vocabulary={"pile": "pile", "garbage_bag": "garbage_bag", "person": "person",
                "stall": "stall"},
)  # fmt: skip
PILE_RULE = RuleSpec(
    id="garbage-pile", kind="dwell", event_code="01-03", zones=["no_dumping"],
    classes=["pile", "garbage_bag"], requires=["pile"], dwell_s=5, end_after_s=4,
)  # fmt: skip


def test_the_committed_rules_keep_fine_tuned_rules_off_with_coco(repo: Path) -> None:
    rules = load_rules(repo / "configs/rules.yaml").active()
    coco = load_catalogue(repo / "models/catalogue.yaml").get("yolo26n")
    needing = [r.id for r in rules if r.requires]
    assert needing, "configs/rules.yaml has no rule for a fine-tuned model's classes"
    assert not {r.id for r in for_model(rules, coco.words())} & set(needing)
    tuned_words = set(TUNED.words()) | {"tricycle", "cart", "umbrella", "table", "chair"}
    assert set(needing) <= {r.id for r in for_model(rules, tuned_words)}


def test_a_tuned_models_class_reaches_a_rule_that_requires_it() -> None:
    class_id = TUNED.classes.index("pile")
    assert TUNED.word_of(class_id) == "pile"  # the catalogue maps the class onto the word
    analyzer = CameraAnalyzer("cam", [], [PILE_RULE], static=StaticConfig(enabled=False))
    image = np.zeros((200, 400, 3), np.uint8)
    events = []
    for t in range(12):
        dets = Detections.from_lists([(100.0, 120.0, 160.0, 180.0)], ["pile"], [0.8], [class_id])
        events += analyzer.process(float(t), image, dets)
    assert [(e.rule_id, e.phase.value, e.boxes[0].cls) for e in events] == [
        ("garbage-pile", "start", "pile")
    ]


def test_unknown_words_are_refused_in_rules_and_catalogue() -> None:
    with pytest.raises(ValidationError, match="unknown vocabulary words"):
        PILE_RULE.model_validate({**PILE_RULE.model_dump(), "requires": ["rubbish"]})
    with pytest.raises(ValidationError, match="unknown vocabulary words"):
        Catalogue(default="x", models=[TUNED.model_copy(update={"name": "x"}).model_dump()
                                       | {"vocabulary": {"pile": "rubbish"}}])  # fmt: skip
