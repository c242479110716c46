"""The composed scenes as a labels file (``shared/FOOTAGE.md``'s format) for ``gridwatch eval``.

Every ``<scene>.json`` ground truth in a folder becomes one entry of ``labels.json``:
its category from the expected event's code, one incident per expected event, and the
zone its camera is given (the scene's recommended zone, with the purpose of its rule;
negatives get it with every street purpose, so any event on them is false). Where
``<scene>_held.mp4`` exists it is the ``eval_file``.

    >>> write_labels(Path("/tmp/scenes"))  # doctest: +SKIP
    PosixPath('/tmp/scenes/labels.json')
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

LABELS_FILE = "labels.json"
CATEGORY_OF_CODE = {"01-03": "dumping", "05-01": "vending", "05-05": "parking", "05-06": "bicycles"}
PURPOSE_OF_CATEGORY = {
    "dumping": "no_dumping",
    "vending": "no_vending",
    "parking": "no_parking",
    "bicycles": "bike_parking",
}


def scene_entry(truth: dict[str, Any], held: Path | None) -> dict[str, Any]:
    """One labels entry from a scene's ground truth (``<scene>.json``)."""
    expected = truth["expected"]
    categories = {CATEGORY_OF_CODE[ev["event_code"]] for ev in expected}
    if len(categories) > 1:
        raise ValueError(f"scene {truth['scene']!r} mixes categories {sorted(categories)}")
    category = categories.pop() if categories else "negative"
    polygon = truth["recommended_zone"]
    purposes = [PURPOSE_OF_CATEGORY[category]] if expected else list(PURPOSE_OF_CATEGORY.values())
    entry: dict[str, Any] = {
        "file": f"{truth['scene']}.mp4",
        "category": category,
        "width": truth["size"][0],
        "height": truth["size"][1],
        "fps": truth["fps"],
        "duration_s": truth["duration_s"],
        "events": [
            {
                "type": ev["label"],
                "object": ev["label"],
                "t_start_s": ev["t_appear_s"],
                "t_owner_leaves_s": ev.get("t_owner_leaves_s"),
                "t_removed_s": None,
                "approx_box_normalized": ev["box"],
            }
            for ev in expected
        ],
        "zones": [{"id": p, "purpose": p, "polygon": polygon} for p in purposes],
        "source_repo": "composed by gridwatch scenes make",
        "notes": truth["description"],
    }
    if held is not None:
        entry["eval_file"] = held.name
    return entry


def write_labels(folder: Path) -> Path:
    """Write ``folder/labels.json`` for every scene ground truth in ``folder``."""
    entries = []
    for truth_file in sorted(folder.glob("*.json")):
        if truth_file.name == LABELS_FILE:
            continue
        truth = json.loads(truth_file.read_text(encoding="utf-8"))
        if "scene" not in truth or "expected" not in truth:
            continue
        held = folder / f"{truth['scene']}_held.mp4"
        entries.append(scene_entry(truth, held if held.is_file() else None))
    target = folder / LABELS_FILE
    target.write_text(json.dumps(entries, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return target
