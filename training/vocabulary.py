"""The training vocabulary (``configs/training.yaml``): reviewed boxes → training classes.

An edge event's boxes carry the rules' words ("object" for a static thing no class
names, "bag", "umbrella", ...). What those should teach a model depends on the event:
an unnamed object in a confirmed 01-03 dumping case is a ``pile``, a bag there a
``garbage_bag``, an umbrella in a confirmed 05-01 vending case part of a ``stall``. This
file says so per event code; ``context`` keeps the other things the edge saw on the frame
(persons, vehicles) labelled; ``classes`` fixes the class order (YOLO ids) and the rule
word each class stands for, which ``gridwatch model train`` writes into the catalogue.

Light on purpose (pydantic only): ``gridwatch config check`` validates it.

>>> v = TrainingVocabulary(classes=[TrainingClass(name="pile", word="pile")],
...                        events={"01-03": {"object": "pile"}})
>>> v.event_class("01-03", "object"), v.event_class("01-03", "person"), v.class_id("pile")
('pile', None, 0)
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator, model_validator

from edge_agent.catalogue import VOCABULARY
from gridwatch.sections import Section, repeated

DEFAULT_TRAINING = Path("configs/training.yaml")
ClassName = str


class TrainingClass(Section):
    """One class of the models trained on reviewed cases."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,47}$", description="The model's class name.")
    word: str = Field(description="The rules' vocabulary word this class stands for.")
    description: str = ""

    @field_validator("word")
    @classmethod
    def _known_word(cls, word: str) -> str:
        if word not in VOCABULARY:
            raise ValueError(f"unknown vocabulary word {word!r}; known: {list(VOCABULARY)}")
        return word


class TrainingVocabulary(Section):
    """The whole of ``configs/training.yaml``."""

    classes: list[TrainingClass] = Field(min_length=1)
    events: dict[str, dict[str, ClassName | None]] = Field(
        default_factory=dict,
        description="Per event code: a confirmed event's box word → class (null: none).",
    )
    context: dict[str, ClassName] = Field(
        default_factory=dict,
        description="Other boxes seen on the frame: word → class, labelled in every image.",
    )
    context_min_confidence: float = Field(0.4, ge=0, le=1)

    @field_validator("classes")
    @classmethod
    def _unique(cls, classes: list[TrainingClass]) -> list[TrainingClass]:
        dupes = repeated(c.name for c in classes)
        if dupes:
            raise ValueError(f"class names must be unique, repeated: {dupes}")
        return classes

    @model_validator(mode="after")
    def _mapped_classes_exist(self) -> TrainingVocabulary:
        names = {c.name for c in self.classes}
        used = {c for m in self.events.values() for c in m.values() if c} | set(
            self.context.values()
        )
        unknown = sorted(used - names)
        if unknown:
            raise ValueError(f"events/context map onto classes not in classes: {unknown}")
        for code in self.events:
            if not code.replace("-", "").isalnum() or code.count("-") != 1:
                raise ValueError(f"events: {code!r} is not an event code like 01-03")
        return self

    @property
    def names(self) -> list[str]:
        """Class names in model order."""
        return [c.name for c in self.classes]

    def class_id(self, name: str) -> int:
        return self.names.index(name)

    def event_class(self, event_code: str, word: str) -> str | None:
        """The class of a box with rule word ``word`` in a confirmed ``event_code`` event."""
        return self.events.get(event_code, {}).get(word)

    def context_class(self, word: str, confidence: float) -> str | None:
        """The class of another box seen on the frame (None: left unlabelled)."""
        if confidence < self.context_min_confidence:
            return None
        return self.context.get(word)

    def words(self) -> dict[str, str]:
        """Class name → rule word, the catalogue entry's ``vocabulary``."""
        return {c.name: c.word for c in self.classes}


def load_vocabulary(path: Path | None = None) -> TrainingVocabulary:
    """Load and validate ``configs/training.yaml`` (or ``path``)."""
    from gridwatch.config import load_model

    return load_model(TrainingVocabulary, path or DEFAULT_TRAINING)
