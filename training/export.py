"""Writing a YOLO dataset folder from the selected samples, with its dataset card.

::

    DIR/data.yaml                 names (class ids of configs/training.yaml), train, val
    DIR/images/{train,val}/<event id>.jpg   the clean frames
    DIR/labels/{train,val}/<event id>.txt   "class cx cy w h" per box, normalized;
                                            empty for a hard negative without context
    DIR/dataset.json              the card: classes with their rule words, counts per
                                  class, camera, street and month, what was left out
    DIR/README.md                 the same card for people

``data.yaml`` names no ``path``: ultralytics then takes the folder it lies in, so the
folder can be moved or copied to a GPU machine as it is.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from training.dataset import NEGATIVE, POSITIVE, TRAIN, VAL, Sample, Selection
from training.vocabulary import TrainingVocabulary

CARD_JSON = "dataset.json"
CARD_MD = "README.md"


class ExportError(RuntimeError):
    """The dataset cannot be written as asked (empty, one camera, folder not empty).

    Recover as the message says: review more cases, widen ``--since``/``--codes``, or
    choose an empty ``--out``.
    """


@dataclass(frozen=True)
class Source:
    """Where the samples came from, for the card."""

    database: str  # masked URL
    since: str | None
    codes: tuple[str, ...]
    timezone: str
    streets: dict[str, str] = field(default_factory=dict)  # code -> name


def yolo_line(class_id: int, xyxy: Iterable[int], w: int, h: int) -> str:
    """One YOLO label line: class, centre x, centre y, width, height (0..1).

    >>> yolo_line(2, (10, 20, 30, 60), 100, 100)
    '2 0.200000 0.400000 0.200000 0.400000'
    """
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    x1, x2 = max(0.0, min(w, x1)), max(0.0, min(w, x2))
    y1, y2 = max(0.0, min(h, y1)), max(0.0, min(h, y2))
    cx, cy = (x1 + x2) / 2 / w, (y1 + y2) / 2 / h
    return f"{class_id} {cx:.6f} {cy:.6f} {(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}"


def check_selection(selection: Selection) -> None:
    """Raise :class:`ExportError` when no valid split can be made."""
    samples = selection.samples
    if not samples:
        left = ", ".join(f"{n} {why}" for why, n in selection.skipped.most_common()) or "none"
        raise ExportError(f"no reviewed event gives a training image (left out: {left})")
    splits = {s.split for s in samples}
    if splits != {TRAIN, VAL}:
        cameras = sorted({s.camera_id for s in samples})
        raise ExportError(
            f"the images come from {len(cameras)} camera(s) ({', '.join(cameras[:5])}): "
            "splitting by camera needs reviewed events from at least two"
        )


def write_dataset(
    out: Path,
    selection: Selection,
    vocab: TrainingVocabulary,
    source: Source,
    progress: Callable[[Iterable[Sample]], Iterable[Sample]] = lambda items: items,
) -> dict[str, Any]:
    """Write the dataset folder ``out`` (which must be empty or absent); returns the card.

    ``progress`` wraps the iteration over samples (e.g. a progress bar).
    """
    check_selection(selection)
    if out.exists() and any(out.iterdir()):
        raise ExportError(f"{out} is not empty; choose a new folder")
    for split in (TRAIN, VAL):
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
    for sample in progress(selection.samples):
        shutil.copyfile(sample.image, out / "images" / sample.split / f"{sample.event_id}.jpg")
        lines = [
            yolo_line(vocab.class_id(label.cls), label.xyxy, sample.width, sample.height)
            for label in sample.labels
        ]
        text = "".join(f"{line}\n" for line in lines)
        (out / "labels" / sample.split / f"{sample.event_id}.txt").write_text(text)
    data = {
        "train": "images/train",
        "val": "images/val",
        "nc": len(vocab.classes),
        "names": dict(enumerate(vocab.names)),
    }
    header = "# gridwatch dataset export: see dataset.json / README.md (the dataset card)\n"
    (out / "data.yaml").write_text(
        header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    card = dataset_card(selection, vocab, source)
    (out / CARD_JSON).write_text(json.dumps(card, ensure_ascii=False, indent=2), "utf-8")
    (out / CARD_MD).write_text(card_markdown(card), encoding="utf-8")
    return card


def _month(t: float, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(t, tz).strftime("%Y-%m")


def dataset_card(selection: Selection, vocab: TrainingVocabulary, source: Source) -> dict[str, Any]:
    """Counts per class, camera, street and month, the class → rule word mapping, the
    source and what was left out."""
    tz = ZoneInfo(source.timezone)
    samples = selection.samples
    instances: dict[str, Counter[str]] = {TRAIN: Counter(), VAL: Counter()}
    images: Counter[str] = Counter()
    for s in samples:
        instances[s.split].update(label.cls for label in s.labels)
        images.update({label.cls for label in s.labels})

    def tally(key: Callable[[Sample], str]) -> dict[str, dict[str, Any]]:
        rows: dict[str, dict[str, Any]] = defaultdict(
            lambda: {"images": 0, POSITIVE: 0, NEGATIVE: 0, "splits": set()}
        )
        for s in samples:
            row = rows[key(s)]
            row["images"] += 1
            row[s.kind] += 1
            row["splits"].add(s.split)
        return {k: {**v, "splits": sorted(v["splits"])} for k, v in sorted(rows.items())}

    return {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": {
            "database": source.database,
            "since": source.since,
            "codes": list(source.codes),
            "timezone": source.timezone,
        },
        "totals": {
            "images": len(samples),
            POSITIVE: sum(s.kind == POSITIVE for s in samples),
            NEGATIVE: sum(s.kind == NEGATIVE for s in samples),
            TRAIN: sum(s.split == TRAIN for s in samples),
            VAL: sum(s.split == VAL for s in samples),
            "instances": sum(len(s.labels) for s in samples),
            "cameras": len({s.camera_id for s in samples}),
        },
        "classes": [
            {
                "id": i,
                "name": c.name,
                "word": c.word,
                "images": images[c.name],
                "instances_train": instances[TRAIN][c.name],
                "instances_val": instances[VAL][c.name],
            }
            for i, c in enumerate(vocab.classes)
        ],
        "per_camera": tally(lambda s: s.camera_id),
        "per_street": tally(
            lambda s: f"{s.street_code} {source.streets.get(s.street_code, '')}".strip()
        ),
        "per_month": tally(lambda s: _month(s.t_event, tz)),
        "per_event_code": tally(lambda s: s.event_code),
        "skipped": dict(selection.skipped.most_common()),
    }


def card_markdown(card: dict[str, Any]) -> str:
    """The dataset card for people."""
    t = card["totals"]
    src = card["source"]
    lines = [
        "# Dataset card",
        "",
        f"Exported {card['created_at']} by `gridwatch dataset export` from {src['database']}"
        f" (since {src['since'] or 'the start'}, codes {', '.join(src['codes']) or 'all'}).",
        "",
        f"{t['images']} images ({t[POSITIVE]} from confirmed cases, {t[NEGATIVE]} hard "
        f"negatives from false positives) from {t['cameras']} cameras: {t[TRAIN]} train, "
        f"{t[VAL]} val, split by camera (no camera in both); {t['instances']} boxes.",
        "",
        "| id | class | rule word | images | boxes train | boxes val |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {c['id']} | {c['name']} | {c['word']} | {c['images']} | {c['instances_train']} "
        f"| {c['instances_val']} |"
        for c in card["classes"]
    ]
    for title, key in (
        ("camera", "per_camera"),
        ("street", "per_street"),
        ("month", "per_month"),
        ("event code", "per_event_code"),
    ):
        lines += [
            "",
            f"| {title} | images | positives | negatives | split |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {k} | {v['images']} | {v[POSITIVE]} | {v[NEGATIVE]} | {', '.join(v['splits'])} |"
            for k, v in card[key].items()
        ]
    if card["skipped"]:
        lines += ["", "Left out:", ""]
        lines += [f"- {n} × {why}" for why, n in card["skipped"].items()]
    return "\n".join(lines) + "\n"
