"""The labels file of real or composed footage (the format of ``shared/FOOTAGE.md``).

A JSON list, one object per clip: the file to replay, its category, the labelled
incidents (when each begins, when its carrier left, when it was taken away, and
roughly where it is), optional zones. Unknown fields are ignored, so a labels file can
carry more (sources, licences, notes). Paths are relative to the labels file.

:func:`load_labels` checks the whole file before anything runs and raises
:class:`LabelsError` naming the line, entry and key of every problem:

    >>> clips = load_labels(Path("eval/real/labels.json"))  # doctest: +SKIP
    >>> clips[0].category, clips[0].incidents[0].t_start_s  # doctest: +SKIP
    (<Category.DUMPING: 'dumping'>, 13.5)
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gridwatch.registry.zones import Zone, ZoneError, parse_zones


class Category(StrEnum):
    """What a clip shows; each category has the event codes that count as its hits."""

    DUMPING = "dumping"
    VENDING = "vending"
    PARKING = "parking"
    BICYCLES = "bicycles"
    NEGATIVE = "negative"


CATEGORY_CODES: dict[Category, frozenset[str]] = {
    Category.DUMPING: frozenset({"01-02", "01-03", "01-08", "05-07"}),
    Category.VENDING: frozenset({"05-01", "05-03", "05-04"}),
    Category.PARKING: frozenset({"05-05"}),
    Category.BICYCLES: frozenset({"05-06"}),
    Category.NEGATIVE: frozenset(),
}


class LabelsError(ValueError):
    """The labels file cannot be used; the message names the line, entry and key.

    Recover by fixing the labels file (or rebuilding the clips it names).
    """


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Incident(_Loose):
    """One labelled incident: an object set down, a vehicle stopped, a stall put up."""

    type: str = ""
    object: str = ""
    t_start_s: float = Field(ge=0)
    t_owner_leaves_s: float | None = Field(None, ge=0)
    t_removed_s: float | None = Field(None, ge=0)
    approx_box_normalized: tuple[float, float, float, float]

    @model_validator(mode="after")
    def _consistent(self) -> Incident:
        x1, y1, x2, y2 = self.approx_box_normalized
        if not all(0.0 <= v <= 1.0 for v in self.approx_box_normalized):
            raise ValueError("approx_box_normalized: every value must be in 0..1")
        if not (x1 < x2 and y1 < y2):
            raise ValueError("approx_box_normalized: expected x1 < x2 and y1 < y2")
        if self.t_removed_s is not None and self.t_removed_s <= self.t_start_s:
            raise ValueError("t_removed_s must come after t_start_s")
        return self

    @property
    def t_reference_s(self) -> float:
        """Time to detect counts from here: the carrier left, else the incident began."""
        return self.t_owner_leaves_s if self.t_owner_leaves_s is not None else self.t_start_s


class Clip(_Loose):
    """One entry of the labels file. ``path`` is the file to replay, resolved."""

    file: str = Field(min_length=1)
    eval_file: str | None = None
    category: Category
    events: list[Incident] = Field(default_factory=list)
    zones: list[dict[str, Any]] | None = None
    path: Path = Path()
    index: int = 0

    @model_validator(mode="after")
    def _events_fit_category(self) -> Clip:
        if self.category is Category.NEGATIVE and self.events:
            raise ValueError("a negative clip has no events (any START on it is false)")
        if self.category is not Category.NEGATIVE and not self.events:
            raise ValueError(f"a {self.category.value} clip needs at least one event")
        return self

    @property
    def incidents(self) -> list[Incident]:
        return self.events

    @property
    def name(self) -> str:
        """The clip's name in tables: its file without folders."""
        return Path(self.file).name

    def zone_list(self) -> list[Zone]:
        """The clip's zones, parsed like a camera's (empty when it has none)."""
        return parse_zones(json.dumps(self.zones)) if self.zones else []


def load_labels(path: Path, *, check_files: bool = True) -> list[Clip]:
    """Read and check a labels file; every problem is reported at once.

    Raises :class:`LabelsError` for a missing or malformed file, an unknown category,
    an entry without a required key, bad zones, duplicate entries, or (with
    ``check_files``) a clip that is not on disk.
    """
    if not path.is_file():
        raise LabelsError(f"{path}: no such labels file")
    text = path.read_text(encoding="utf-8")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LabelsError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    if not isinstance(raw, list):
        raise LabelsError(f"{path}:1: expected a JSON list of clips, got {type(raw).__name__}")
    clips: list[Clip] = []
    problems: list[str] = []
    first: dict[Path, int] = {}
    cursor = 0
    for i, entry in enumerate(raw):
        where, cursor = _where(path, text, cursor, i, entry)
        clip = _clip(entry, i, path.parent, where, problems)
        if clip is None:
            continue
        if clip.path in first:
            problems.append(f"{where}: the same clip as entry {first[clip.path] + 1}")
            continue
        first[clip.path] = i
        if check_files and not clip.path.is_file():
            problems.append(missing(clip, where))
        clips.append(clip)
    if not raw:
        problems.append(f"{path}:1: the labels file lists no clips")
    if problems:
        raise LabelsError("\n".join(problems))
    return clips


def missing(clip: Clip, where: str) -> str:
    """The problem of a clip that is not on disk."""
    return f"{where}: clip {clip.path} is missing (rebuild the clips first)"


def check_clips(labels: Path, clips: list[Clip]) -> None:
    """Raise :class:`LabelsError` naming every clip of ``clips`` that is not on disk."""
    problems = [
        missing(c, f"{labels}: entry {c.index + 1} ({c.file})")
        for c in clips
        if not c.path.is_file()
    ]
    if problems:
        raise LabelsError("\n".join(problems))


def _clip(entry: Any, index: int, base: Path, where: str, problems: list[str]) -> Clip | None:
    if not isinstance(entry, dict):
        problems.append(f"{where}: expected an object, got {type(entry).__name__}")
        return None
    try:
        clip = Clip.model_validate(entry)
    except ValidationError as exc:
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]) or "entry"
            problems.append(f"{where}: {key}: {_message(err)}")
        return None
    try:
        clip.zone_list()
    except ZoneError as exc:
        problems.append(f"{where}: zones: {exc}")
        return None
    target = base / (clip.eval_file or clip.file)
    return clip.model_copy(update={"path": target, "index": index})


def _message(err: Any) -> str:
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "enum":
        return f"{err['input']!r} is not a category; known: {', '.join(c.value for c in Category)}"
    return msg


def _where(path: Path, text: str, cursor: int, index: int, entry: Any) -> tuple[str, int]:
    """``labels.json:12: entry 3 (bag.avi)``, with the line of the entry's ``file`` value
    (searched from ``cursor``, where the previous entry's was found); and the new cursor."""
    name = entry.get("file") if isinstance(entry, dict) else None
    if not isinstance(name, str) or not name:
        return f"{path}: entry {index + 1}", cursor
    at = text.find(json.dumps(name), cursor)
    if at < 0:
        return f"{path}: entry {index + 1} ({name})", cursor
    line = text.count("\n", 0, at) + 1
    return f"{path}:{line}: entry {index + 1} ({name})", at + 1
