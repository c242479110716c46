"""Fine-tuning a catalogue model on an exported dataset, offline, and cataloguing it.

:func:`fine_tune` runs ultralytics' trainer from a catalogue entry's weights (never
downloading anything: ``YOLO_OFFLINE``, no plots, so no font download, no AMP check,
which would fetch yolo26n.pt) on the CPU or, where present, CUDA; copies the best
weights into a writable weights folder (``models/weights/`` by default, never the
shared read-only one) and :func:`add_entry` adds the model to the catalogue with its
classes and their rule words (from the dataset card), keeping the file's comments.
Edge agents pick the new entry up without a restart once ``edge.detector.model`` (or
the catalogue's ``default``) names it (edge_agent/model_watch.py).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from edge_agent.catalogue import VOCABULARY, Catalogue, ModelEntry
from training.export import CARD_JSON


class TrainingError(RuntimeError):
    """The fine-tune cannot start or its result cannot be catalogued.

    Recover as the message says (another name, an exported dataset folder, a writable
    weights folder).
    """


@dataclass(frozen=True)
class TrainOptions:
    epochs: int = 30
    imgsz: int = 640
    batch: int = 16
    device: str = "auto"  # auto | cpu | cuda | 0,1...
    workers: int | None = None  # None: 0 on the CPU, 4 on CUDA
    amp: bool = False  # CUDA only
    seed: int = 0


@dataclass(frozen=True)
class TrainResult:
    entry: ModelEntry
    weights: Path
    metrics: dict[str, float]
    seconds: float


def dataset_classes(data_dir: Path) -> tuple[list[str], dict[str, str]]:
    """The dataset's class names (model order) and their rule words: from its card
    (``dataset.json``), else names that are rule words map to themselves."""
    data_yaml = data_dir / "data.yaml"
    if not data_yaml.is_file():
        raise TrainingError(
            f"{data_yaml} not found: export a dataset first (gridwatch dataset export)"
        )
    data = yaml.safe_load(data_yaml.read_text(encoding="utf-8")) or {}
    names_raw = data.get("names")
    if isinstance(names_raw, dict):
        names = [str(names_raw[k]) for k in sorted(names_raw, key=int)]
    elif isinstance(names_raw, list):
        names = [str(n) for n in names_raw]
    else:
        raise TrainingError(f"{data_yaml}: no class names")
    card = data_dir / CARD_JSON
    if card.is_file():
        words = {c["name"]: c["word"] for c in json.loads(card.read_text("utf-8"))["classes"]}
    else:
        words = {n: n for n in names if n in VOCABULARY}
    return names, {n: w for n, w in words.items() if n in names and w in VOCABULARY}


def _device(device: str) -> str:
    from edge_agent.detector import resolve_device

    return resolve_device(device)


def fine_tune(
    base: ModelEntry,
    data_dir: Path,
    name: str,
    weights_dir: Path,
    work_dir: Path,
    options: TrainOptions,
    base_weights_dir: Path | None = None,
) -> TrainResult:
    """Train ``name`` from ``base`` on ``data_dir``; weights land in ``weights_dir``."""
    from edge_agent.detector import _offline_env

    names, words = dataset_classes(data_dir)
    source = base.require_weights(base_weights_dir)
    target = weights_dir / f"{name}.pt"
    if target.exists():
        raise TrainingError(f"{target} exists: choose another --name")
    weights_dir.mkdir(parents=True, exist_ok=True)
    if not os.access(weights_dir, os.W_OK):
        raise TrainingError(f"{weights_dir} is not writable: pass --weights-dir")
    _offline_env()
    from ultralytics import YOLO

    device = _device(options.device)
    cuda = device not in ("cpu", "mps")
    amp = options.amp and cuda
    if amp:
        # ultralytics checks AMP by loading yolo26n.pt, downloading it when absent; AMP
        # is sound on the NVIDIA GPUs we run (the check only blocks GTX 16xx-class cards).
        import ultralytics.engine.trainer as trainer_module

        trainer_module.check_amp = lambda model: True
    started = time.perf_counter()
    model = YOLO(str(source))
    model.train(
        data=str((data_dir / "data.yaml").resolve()),
        epochs=options.epochs,
        imgsz=options.imgsz,
        batch=options.batch,
        device=device,
        workers=options.workers if options.workers is not None else (4 if cuda else 0),
        amp=amp,
        plots=False,
        project=str(work_dir.resolve()),
        name=name,
        exist_ok=True,
        seed=options.seed,
        verbose=False,
    )
    trainer: Any = model.trainer
    best = Path(trainer.best) if Path(trainer.best).is_file() else Path(trainer.last)
    shutil.copyfile(best, target)
    metrics = {k: round(float(v), 4) for k, v in (trainer.metrics or {}).items()}
    entry = ModelEntry(
        name=name,
        weights=target.name,
        weights_dir=weights_dir,
        imgsz=options.imgsz,
        classes=names,
        vocabulary=words,
        description=(
            f"fine-tuned from {base.name} on {data_dir.name} by gridwatch model train, "
            f"{options.epochs} epoch(s) at {options.imgsz} px on {device}, "
            f"{datetime.now(UTC).date().isoformat()}"
        ),
    )
    return TrainResult(entry, target, metrics, time.perf_counter() - started)


_TOP_KEY = re.compile(r"^[A-Za-z_][\w-]*\s*:")


def add_entry(catalogue: Path, entry: ModelEntry, set_default: bool = False) -> None:
    """Add ``entry`` to the ``models:`` list of ``catalogue`` (text insertion: comments
    and anchors stay), optionally as the ``default``; the result is validated before
    it replaces the file (atomically)."""
    from gridwatch.config import ConfigError, load_model

    text = catalogue.read_text(encoding="utf-8")
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if re.match(r"^models\s*:", line)), None)
    if start is None:
        raise TrainingError(f"{catalogue}: no top-level 'models:' list")
    end = next((i for i in range(start + 1, len(lines)) if _TOP_KEY.match(lines[i])), len(lines))
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    fields = entry.model_dump(mode="json", exclude_defaults=True)
    fields.setdefault("imgsz", entry.imgsz)
    dumped = yaml.safe_dump([fields], sort_keys=False, allow_unicode=True, width=1000)
    block = [
        f"  # added by gridwatch model train, {datetime.now(UTC).isoformat(timespec='seconds')}"
    ]
    block += [f"  {line}" for line in dumped.splitlines()]
    lines[end:end] = block
    if set_default:
        at = next((i for i, line in enumerate(lines) if re.match(r"^default\s*:", line)), None)
        if at is None:
            lines.insert(0, f"default: {entry.name}")
        else:
            lines[at] = f"default: {entry.name}"
    new_text = "\n".join(lines) + "\n"
    with tempfile.NamedTemporaryFile(
        "w", dir=catalogue.parent, suffix=".yaml", delete=False, encoding="utf-8"
    ) as tmp:
        tmp.write(new_text)
    try:
        load_model(Catalogue, Path(tmp.name))
    except ConfigError as exc:
        os.unlink(tmp.name)
        raise TrainingError(f"{catalogue}: the new entry does not validate: {exc}") from None
    os.replace(tmp.name, catalogue)
