"""``gridwatch eval LABELS.json``: how well detection does on labelled footage.

Replays every clip of a labels file (``shared/FOOTAGE.md``'s format) through the
pipeline of ``gridwatch edge replay`` and scores its events: hits, false events,
duplicates, premature ENDs, time to detect, recall, precision and false events per
camera-hour on negatives. Prints a table per clip and summaries per category and rule;
``--json`` writes every figure and every event. It exits non-zero only when it cannot
run (missing clip, bad labels, bad rules or model), never because the scores are low.

Example::

    gridwatch eval eval/real/labels.json --jobs 2 --json eval-real.json \\
        --evidence-dir eval-evidence/
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from edge_agent.evaluation.labels import Clip, LabelsError, check_clips, load_labels
from edge_agent.evaluation.run import ClipError, EvalOptions, ZonesMode


def _check_pipeline(options: EvalOptions) -> None:
    """Rules, catalogue and weights load (before any worker starts)."""
    from edge_agent.catalogue import MissingWeightsError, load_catalogue
    from edge_agent.rules.config import load_rules
    from gridwatch.config import ConfigError, load_settings

    try:
        load_settings(options.config_file)
        load_rules(options.rules_file)
        load_catalogue(options.catalogue).get(options.model).require_weights()
    except (ConfigError, KeyError, MissingWeightsError) as exc:
        raise click.ClickException(str(exc)) from None


def _samples(clips: list[Clip], interval: float) -> int:
    """Samples the replays will take (from the files' headers); unreadable files fail."""
    from edge_agent.replay import video_seconds

    total = 0
    for clip in clips:
        try:
            seconds = video_seconds(clip.path)
        except Exception as exc:  # av.error.*: not a video we can read
            raise click.ClickException(f"{clip.path}: cannot read video ({exc})") from None
        total += max(1, round((seconds or 60.0) / interval))
    return total


@click.command("eval")
@click.argument("labels", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--json",
    "json_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write every figure and every event here.",
)
@click.option(
    "--jobs",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Clips replayed in parallel processes.",
)
@click.option(
    "--zones-mode",
    type=click.Choice([m.value for m in ZonesMode]),
    default=ZonesMode.LABELS.value,
    show_default=True,
    help="labels: the labels' zones (else none); whole-frame: whole-picture zones "
    "of every street purpose; none: no zones, the defaults.",
)
@click.option(
    "--rules",
    "rules_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Rules YAML (default configs/rules.yaml).",
)
@click.option("--model", "model_name", help="Catalogue entry (default: the catalogue's).")
@click.option(
    "--catalogue", type=click.Path(path_type=Path, dir_okay=False), help="models/catalogue.yaml."
)
@click.option("--imgsz", type=click.IntRange(64, 2048), help="Detector input size.")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.05),
    default=1.0,
    show_default=True,
    help="Seconds between samples, like a camera's analysis_interval_s.",
)
@click.option(
    "--evidence-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write a picture of every false event, premature END and miss here.",
)
@click.option("--only", multiple=True, help="Only clips whose file name contains this.")
@click.pass_context
def eval_cmd(
    ctx: click.Context,
    labels: Path,
    json_path: Path | None,
    jobs: int,
    zones_mode: str,
    rules_file: Path | None,
    model_name: str | None,
    catalogue: Path | None,
    imgsz: int | None,
    interval: float,
    evidence_dir: Path | None,
    only: tuple[str, ...],
) -> None:
    """Score detection on the labelled clips of LABELS (a JSON labels file)."""
    from edge_agent.evaluation.report import (
        clip_table,
        document,
        summary_table,
        write_evidence,
        write_json,
    )
    from edge_agent.evaluation.run import run_clips
    from edge_agent.evaluation.scoring import EventRecord, score_clip

    try:
        clips = load_labels(labels, check_files=False)
        if only:
            clips = [c for c in clips if any(part in c.file for part in only)]
            if not clips:
                raise LabelsError(f"no clip of {labels} matches --only {' '.join(only)}")
        check_clips(labels, clips)
    except LabelsError as exc:
        raise click.ClickException(str(exc)) from None
    options = EvalOptions(
        rules_file=rules_file,
        catalogue=catalogue,
        model=model_name,
        imgsz=imgsz,
        interval=interval,
        zones_mode=ZonesMode(zones_mode),
        config_file=(ctx.obj or {}).get("config_file"),
        keep_evidence=evidence_dir is not None,
    )
    _check_pipeline(options)
    total = _samples(clips, interval)
    click.echo(f"{labels}: {len(clips)} clips, about {total} samples, {jobs} job(s)", err=True)
    started = time.perf_counter()
    with click.progressbar(length=total, label="replaying", file=sys.stderr, show_pos=True) as bar:
        try:
            runs = run_clips(clips, options, jobs, lambda n: bar.update(n))
        except ClipError as exc:
            raise click.ClickException(str(exc)) from None
    wall = time.perf_counter() - started
    scores = [
        score_clip(clip, [EventRecord.of(e) for e in run.events], run.replayed_s)
        for clip, run in zip(clips, runs, strict=True)
    ]
    doc = document(scores, runs, options, wall)
    click.echo("\n".join(clip_table(scores)))
    click.echo("")
    click.echo("\n".join(summary_table(doc)))
    click.echo(f"\nzones: {options.zones_mode.value}; {wall:.0f} s wall", err=True)
    if evidence_dir is not None:
        from gridwatch.config import load_settings

        max_side = load_settings(options.config_file).edge.ingest.analysis_max_side
        n = write_evidence(evidence_dir, scores, runs, max_side)
        click.echo(f"{n} evidence picture(s) in {evidence_dir}", err=True)
    if json_path is not None:
        write_json(json_path, doc)
        click.echo(f"wrote {json_path}", err=True)
