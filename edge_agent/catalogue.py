"""The model catalogue (``models/catalogue.yaml``): which weights, input size, class names.

Each entry names a weights file (looked up in ``$GRIDWATCH_WEIGHTS_DIR``, default
``models/weights/``), the model's input size, its class names in model order, and how
model classes map onto the rules' vocabulary (``handbag`` → ``bag``, ``bench`` →
``table``...). Rules speak only vocabulary words, so a custom model trained on the
operators' own cases can slot in by mapping its classes here.

Light on purpose (pydantic and PyYAML only): ``gridwatch config check`` validates it.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from gridwatch.sections import Section, repeated

WEIGHTS_ENV = "GRIDWATCH_WEIGHTS_DIR"
DEFAULT_WEIGHTS_DIR = Path("models/weights")
DEFAULT_CATALOGUE = Path("models/catalogue.yaml")

# Words the rules understand. "object" is reserved for static foreground blobs that no
# model class explains (see edge_agent.motion.StaticForeground). The last five name
# things COCO has no class for: only a model fine-tuned on the operators' own cases
# (`gridwatch model train`) produces them, and rules that need them say so (`requires`).
VOCABULARY = (
    "person",
    "bicycle",
    "motorcycle",
    "car",
    "bus",
    "truck",
    "bag",
    "umbrella",
    "table",
    "chair",
    "cart",
    "bottle",
    "furniture",
    "object",
    "garbage_bag",
    "pile",
    "stall",
    "tricycle",
    "ebike",
)
UNNAMED = "object"  # every model "produces" it: static objects no class names


class MissingWeightsError(FileNotFoundError):
    """The weights file of a catalogue entry is not on this machine.

    Recover by copying the file into ``$GRIDWATCH_WEIGHTS_DIR`` (see models/README.md).
    """


class ModelEntry(Section):
    """One model: weights file, input size, class names and vocabulary mapping."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    weights: str = Field(min_length=1, description="File name inside $GRIDWATCH_WEIGHTS_DIR.")
    weights_dir: Path | None = Field(
        None,
        description="The folder of this entry's weights instead of $GRIDWATCH_WEIGHTS_DIR "
        "(a fine-tuned model: where `gridwatch model train` wrote it).",
    )
    imgsz: int = Field(640, ge=64, le=2048)
    classes: list[str] = Field(min_length=1, description="Class names in model order.")
    vocabulary: dict[str, str] = Field(
        default_factory=dict, description="Model class name → rule vocabulary word."
    )
    description: str = ""

    @model_validator(mode="after")
    def _mapping_is_known(self) -> ModelEntry:
        unknown_cls = sorted(set(self.vocabulary) - set(self.classes))
        if unknown_cls:
            raise ValueError(f"vocabulary maps classes the model does not have: {unknown_cls}")
        unknown_word = sorted(set(self.vocabulary.values()) - set(VOCABULARY))
        if unknown_word:
            raise ValueError(f"unknown vocabulary words {unknown_word}; known: {VOCABULARY}")
        return self

    def word_of(self, class_id: int) -> str | None:
        """The vocabulary word of a model class id, or None when the rules ignore it."""
        if 0 <= class_id < len(self.classes):
            return self.vocabulary.get(self.classes[class_id])
        return None

    def words(self) -> frozenset[str]:
        """The vocabulary words this model can produce (and ``object``, which static
        objects give with any model)."""
        return frozenset({*self.vocabulary.values(), UNNAMED})

    def weights_path(self, weights_dir: Path | None = None) -> Path:
        """Where the weights file should be: the entry's own ``weights_dir``, else
        ``weights_dir``, env, or ``models/weights``."""
        folder = (
            self.weights_dir
            or weights_dir
            or Path(os.environ.get(WEIGHTS_ENV) or DEFAULT_WEIGHTS_DIR)
        )
        return folder / self.weights

    def require_weights(self, weights_dir: Path | None = None) -> Path:
        """The weights path; raises :class:`MissingWeightsError` naming it when absent."""
        path = self.weights_path(weights_dir)
        if not path.is_file():
            raise MissingWeightsError(
                f"model {self.name!r}: weights {path} not found; set {WEIGHTS_ENV} to the "
                "folder holding them (see models/README.md)"
            )
        return path


class Catalogue(Section):
    """The whole of ``models/catalogue.yaml``."""

    default: str = "yolo26n"
    models: list[ModelEntry] = Field(min_length=1)

    @field_validator("models")
    @classmethod
    def _unique(cls, models: list[ModelEntry]) -> list[ModelEntry]:
        dupes = repeated(m.name for m in models)
        if dupes:
            raise ValueError(f"model names must be unique, repeated: {dupes}")
        return models

    @model_validator(mode="after")
    def _default_exists(self) -> Catalogue:
        if self.default not in {m.name for m in self.models}:
            raise ValueError(f"default model {self.default!r} is not in the catalogue")
        return self

    def get(self, name: str | None = None) -> ModelEntry:
        """The entry called ``name`` (the default when None); KeyError lists the known ones."""
        wanted = name or self.default
        for entry in self.models:
            if entry.name == wanted:
                return entry
        raise KeyError(f"unknown model {wanted!r}; known: {[m.name for m in self.models]}")


def load_catalogue(path: Path | None = None) -> Catalogue:
    """Load and validate the catalogue (``models/catalogue.yaml`` by default)."""
    from gridwatch.config import load_model

    return load_model(Catalogue, path or DEFAULT_CATALOGUE)
