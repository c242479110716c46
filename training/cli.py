"""``gridwatch dataset export`` and ``gridwatch model train|compare``.

::

    gridwatch dataset export --out ds/ [--since 2026-11-01] [--codes 01-03 --codes 05-01]
    gridwatch model train --data ds/ --base yolo26n --epochs 30 --imgsz 640 [--name NAME]
    gridwatch model compare yolo26n NAME --eval eval/real/labels.json
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path

import click

from gridwatch.cli.common import db_option, settings_from


@click.group()
def dataset() -> None:
    """Training sets from the operators' reviewed cases."""


def _codes(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted({c.strip() for v in values for c in v.split(",") if c.strip()}))


@dataset.command("export")
@click.option("--out", "out", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="An empty or new folder for the dataset.")  # fmt: skip
@click.option("--since", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
              help="Only cases opened from this date (working-hours timezone).")  # fmt: skip
@click.option("--codes", multiple=True, metavar="CODE[,CODE]",
              help="Only these event codes (repeat, or separate with commas).")  # fmt: skip
@click.option("--vocabulary", "vocabulary_file", type=click.Path(path_type=Path, dir_okay=False),
              help="Training vocabulary (default configs/training.yaml).")  # fmt: skip
@click.option("--val-fraction", type=click.FloatRange(0.0, 0.9), default=0.2, show_default=True,
              help="Share of cameras whose images go to val.")  # fmt: skip
@click.option("--per-case", type=click.IntRange(1, 1000), default=5, show_default=True,
              help="At most this many (newest) START events of one case.")  # fmt: skip
@click.option("--evidence-dir", type=click.Path(path_type=Path, file_okay=False),
              help="The aggregator's evidence folder (default: the configured one).")  # fmt: skip
@db_option
@click.pass_context
def export(
    ctx: click.Context,
    out: Path,
    since: datetime | None,
    codes: tuple[str, ...],
    vocabulary_file: Path | None,
    val_fraction: float,
    per_case: int,
    evidence_dir: Path | None,
    db_url: str | None,
) -> None:
    """Write a YOLO dataset (images, labels, data.yaml, dataset card) from reviewed cases:
    confirmed events as positives, false positives as hard negatives, split by camera."""
    from sqlalchemy import select

    from aggregator.event_types import EventTypes
    from gridwatch.config import ConfigError
    from gridwatch.db import GridUnitRow, open_db
    from gridwatch.secrets import mask_url
    from training.dataset import Sample, select_samples
    from training.export import ExportError, Source, write_dataset
    from training.vocabulary import load_vocabulary

    settings = settings_from(ctx)
    try:
        vocab = load_vocabulary(vocabulary_file)
        types = EventTypes.load(settings.aggregator.event_types_file)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    tz = types.spec.working_hours.timezone
    url = settings.database_url(db_url)
    evidence = evidence_dir or settings.aggregator.evidence_dir or settings.data_dir() / "evidence"
    from aggregator.web.api.cases import unix

    engine = open_db(url)
    wanted = _codes(codes)
    with engine.connect() as conn:
        selection = select_samples(
            conn,
            evidence,
            vocab,
            since=unix(since, tz) if since else None,
            codes=wanted,
            per_case=per_case,
            val_fraction=val_fraction,
        )
        streets = dict(
            conn.execute(
                select(GridUnitRow.code, GridUnitRow.name).where(GridUnitRow.level == "street")
            ).all()
        )
    source = Source(mask_url(url), since.date().isoformat() if since else None, wanted, tz, streets)
    total = len(selection.samples)
    try:
        with click.progressbar(
            length=total, label="exporting", file=sys.stderr, show_pos=True
        ) as bar:

            def progress(items: Iterable[Sample]) -> Iterator[Sample]:
                for item in items:
                    yield item
                    bar.update(1)

            card = write_dataset(out, selection, vocab, source, progress)
    except ExportError as exc:
        raise click.ClickException(str(exc)) from None
    t = card["totals"]
    click.echo(
        f"{out}: {t['images']} images ({t['positive']} positive, {t['negative']} hard "
        f"negative) from {t['cameras']} cameras, {t['train']} train / {t['val']} val, "
        f"{t['instances']} boxes; card in {out / 'README.md'}"
    )
    for why, n in card["skipped"].items():
        click.echo(f"left out: {n} × {why}", err=True)


@click.group()
def model() -> None:
    """Fine-tune models on exported datasets and compare them on labelled footage."""


@model.command("train")
@click.option("--data", "data_dir", type=click.Path(path_type=Path, file_okay=False),
              required=True, help="A folder written by `gridwatch dataset export`.")  # fmt: skip
@click.option("--base", default=None, help="Catalogue entry to start from (default: the default).")
@click.option("--epochs", type=click.IntRange(1, 10_000), default=30, show_default=True)
@click.option("--imgsz", type=click.IntRange(64, 2048), default=640, show_default=True)
@click.option("--batch", type=click.IntRange(1, 1024), default=16, show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or GPU ids.")
@click.option("--workers", type=click.IntRange(0, 64), help="Loader processes (CPU 0, CUDA 4).")
@click.option("--amp/--no-amp", default=False, show_default=True, help="Mixed precision (CUDA).")
@click.option("--name", default=None, help="The new entry's name (default <base>-ft-<time>).")
@click.option("--weights-dir", type=click.Path(path_type=Path, file_okay=False),
              default=Path("models/weights"), show_default=True,
              help="A writable folder for the new weights.")  # fmt: skip
@click.option("--catalogue", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Catalogue to add the entry to (default edge.models_catalogue).")  # fmt: skip
@click.option("--set-default", is_flag=True, help="Make it the catalogue's default.")
@click.pass_context
def train(
    ctx: click.Context,
    data_dir: Path,
    base: str | None,
    epochs: int,
    imgsz: int,
    batch: int,
    device: str,
    workers: int | None,
    amp: bool,
    name: str | None,
    weights_dir: Path,
    catalogue: Path | None,
    set_default: bool,
) -> None:
    """Fine-tune BASE on a dataset (offline) and add it to the model catalogue."""
    import os

    from edge_agent.catalogue import MissingWeightsError, load_catalogue
    from gridwatch.config import ConfigError
    from training.train import TrainingError, TrainOptions, add_entry, fine_tune

    settings = settings_from(ctx)
    path = catalogue or settings.edge.models_catalogue
    try:
        cat = load_catalogue(path)
        entry = cat.get(base)
    except (ConfigError, KeyError) as exc:
        raise click.ClickException(str(exc)) from None
    new_name = name or f"{entry.name}-ft-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    if new_name in {m.name for m in cat.models}:
        raise click.ClickException(f"{path} already has a model {new_name!r}: choose --name")
    env_weights = os.environ.get("GRIDWATCH_WEIGHTS_DIR")
    options = TrainOptions(epochs, imgsz, batch, device, workers, amp)
    click.echo(f"fine-tuning {entry.name} on {data_dir} → {new_name} ({epochs} epochs)", err=True)
    try:
        result = fine_tune(
            entry,
            data_dir,
            new_name,
            weights_dir,
            settings.data_dir() / "training",
            options,
            Path(env_weights) if env_weights else None,
        )
        add_entry(path, result.entry, set_default)
    except (TrainingError, MissingWeightsError) as exc:
        raise click.ClickException(str(exc)) from None
    shown = ", ".join(f"{k} {v}" for k, v in result.metrics.items() if k.startswith("metrics/"))
    click.echo(
        f"{new_name}: weights {result.weights}, {len(result.entry.classes)} classes, "
        f"{result.seconds:.0f} s; added to {path}{' as the default' if set_default else ''}"
    )
    if shown:
        click.echo(f"validation: {shown}")


@model.command("compare")
@click.argument("model_a")
@click.argument("model_b")
@click.option("--eval", "labels", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="A labels file (shared/FOOTAGE.md), as for `gridwatch eval`.")  # fmt: skip
@click.option("--catalogue", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="models/catalogue.yaml.")  # fmt: skip
@click.option("--rules", "rules_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--zones-mode", type=click.Choice(["labels", "whole-frame", "none"]),
              default="labels", show_default=True)  # fmt: skip
@click.option("--jobs", type=click.IntRange(1, 64), default=1, show_default=True)
@click.option("--interval", type=click.FloatRange(min=0.05), default=1.0, show_default=True)
@click.option("--only", multiple=True, help="Only clips whose file name contains this.")
@click.option("--json", "json_path", type=click.Path(path_type=Path, dir_okay=False))
@click.pass_context
def compare(
    ctx: click.Context,
    model_a: str,
    model_b: str,
    labels: Path,
    catalogue: Path | None,
    rules_file: Path | None,
    zones_mode: str,
    jobs: int,
    interval: float,
    only: tuple[str, ...],
    json_path: Path | None,
) -> None:
    """Run the evaluation of `gridwatch eval` for MODEL_A and MODEL_B; print the
    difference per rule."""
    import json

    from edge_agent.evaluation.cli import _check_pipeline, _samples
    from edge_agent.evaluation.labels import LabelsError, check_clips, load_labels
    from edge_agent.evaluation.run import ClipError, EvalOptions, ZonesMode
    from training.compare import difference, evaluate, table

    try:
        clips = load_labels(labels, check_files=False)
        if only:
            clips = [c for c in clips if any(part in c.file for part in only)]
            if not clips:
                raise LabelsError(f"no clip of {labels} matches --only {' '.join(only)}")
        check_clips(labels, clips)
    except LabelsError as exc:
        raise click.ClickException(str(exc)) from None
    config_file = (ctx.find_root().obj or {}).get("config_file")
    catalogue = catalogue or settings_from(ctx).edge.models_catalogue
    results = []
    for name in (model_a, model_b):
        options = EvalOptions(
            rules_file=rules_file,
            catalogue=catalogue,
            model=name,
            interval=interval,
            zones_mode=ZonesMode(zones_mode),
            config_file=config_file,
        )
        _check_pipeline(options)
        with click.progressbar(
            length=_samples(clips, interval), label=name, file=sys.stderr, show_pos=True
        ) as bar:
            try:
                results.append(evaluate(clips, options, jobs, lambda n: bar.update(n)))
            except ClipError as exc:
                raise click.ClickException(str(exc)) from None
    a, b = results
    click.echo("\n".join(table(model_a, a, model_b, b)))
    if json_path is not None:
        doc = {"a": {"model": model_a, **a}, "b": {"model": model_b, **b},
               "difference": difference(a, b)}  # fmt: skip
        json_path.write_text(json.dumps(doc, ensure_ascii=False, indent=2), encoding="utf-8")
        click.echo(f"wrote {json_path}", err=True)
