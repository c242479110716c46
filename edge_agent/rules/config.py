"""The schema of ``configs/rules.yaml``: one entry per rule, validated at start-up.

Light on purpose (pydantic only), so ``gridwatch config check`` validates the file
without importing numpy or OpenCV.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from edge_agent.catalogue import VOCABULARY
from gridwatch.registry.zones import ZonePurpose
from gridwatch.sections import Section, repeated

DEFAULT_RULES = Path("configs/rules.yaml")


class RuleKind(StrEnum):
    LEFT_OBJECT = "left_object"  # a new static object stays after its carrier left
    VENDING = "vending"  # persons stay next to vending props
    DWELL = "dwell"  # an object of a class holds still in a zone
    COUNT = "count"  # at least min_count static objects in a zone


class Anchor(StrEnum):
    BOTTOM_CENTER = "bottom_center"  # the foot point is inside the polygon
    CENTER = "center"
    OVERLAP = "overlap"  # at least half of the box is inside the polygon


class RuleSpec(Section):
    """One rule. Times are seconds of the camera's clock."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    kind: RuleKind
    event_code: str = Field(pattern=r"^[0-9A-Za-z]{2,8}-[0-9A-Za-z]{2,8}$")
    enabled: bool = True
    zones: list[ZonePurpose] = Field(
        min_length=1, description="Zone purposes it applies to; a camera without zones: all."
    )
    classes: list[str] = Field(min_length=1, description="Vocabulary words it looks at.")
    props: list[str] = Field(
        default_factory=list, description="vending: the props persons stay beside."
    )
    dwell_s: float = Field(
        30.0, ge=0, le=7 * 86_400, description="Held this long: START (a zone may set its own)."
    )
    min_count: int = Field(1, ge=1, le=1000)
    cooldown_s: float = Field(300.0, ge=0, le=7 * 86_400)
    end_after_s: float = Field(
        15.0,
        gt=0,
        le=86_400,
        description="The place looks as before (or, where it cannot be checked, nothing is "
        "seen) this long: the incident ends (END event).",
    )
    min_confidence: float = Field(0.25, ge=0, le=1)
    anchor: Anchor = Anchor.BOTTOM_CENTER
    near: float = Field(
        1.0, gt=0, le=20, description="Nearness, in box diagonals (carrier, vendor beside prop)."
    )
    whole_frame: bool = Field(
        True,
        description="On a camera without zones, watch the whole frame; false: only inside "
        "zones of its purposes (rules defined by the place: bin areas, shopfronts).",
    )
    require_carrier: bool = Field(
        True,
        description="left_object: only objects a person (or a vehicle they came off) was "
        "near when they appeared.",
    )

    requires: list[str] = Field(
        default_factory=list,
        description="Words the model must produce for this rule to run (e.g. pile, stall: "
        "only a fine-tuned model has them); with a model without them it stays off.",
    )

    @field_validator("classes", "props", "requires")
    @classmethod
    def _known_words(cls, words: list[str]) -> list[str]:
        unknown = sorted(set(words) - set(VOCABULARY))
        if unknown:
            raise ValueError(f"unknown vocabulary words {unknown}; known: {list(VOCABULARY)}")
        return words

    @model_validator(mode="after")
    def _kind_params(self) -> RuleSpec:
        if self.kind is RuleKind.VENDING and not self.props:
            raise ValueError("a vending rule needs props (e.g. umbrella, table)")
        if ZonePurpose.IGNORE in self.zones:
            raise ValueError("'ignore' zones mask detections out; no rule can apply to them")
        return self


class RulesFile(Section):
    """The whole of ``configs/rules.yaml``."""

    rules: list[RuleSpec] = Field(min_length=1)

    @field_validator("rules")
    @classmethod
    def _unique_ids(cls, rules: list[RuleSpec]) -> list[RuleSpec]:
        dupes = repeated(r.id for r in rules)
        if dupes:
            raise ValueError(f"rule ids must be unique, repeated: {dupes}")
        return rules

    def active(self) -> list[RuleSpec]:
        return [r for r in self.rules if r.enabled]


def for_model(rules: Iterable[RuleSpec], words: Iterable[str]) -> list[RuleSpec]:
    """The rules that can run with a model producing ``words``: those whose
    ``requires`` it all produces (``ModelEntry.words()``).

    >>> r = RuleSpec(id="pile", kind="left_object", event_code="01-03",
    ...              zones=["no_dumping"], classes=["pile"], requires=["pile"])
    >>> [x.id for x in for_model([r], {"person", "car"})], [x.id for x in for_model([r], {"pile"})]
    ([], ['pile'])
    """
    have = set(words)
    return [r for r in rules if set(r.requires) <= have]


def load_rules(path: Path | None = None) -> RulesFile:
    """Load and validate a rules file (``configs/rules.yaml`` by default)."""
    from gridwatch.config import load_model

    return load_model(RulesFile, path or DEFAULT_RULES)
