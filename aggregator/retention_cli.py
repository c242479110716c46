"""``gridwatch retention``: run the retention rules once (cron, Kubernetes CronJob), or see
what they would delete.

    gridwatch retention run --dry-run          # what would go: counts, bytes, oldest/newest
    gridwatch retention run                    # delete it (exit 0; 1 on an error)
    gridwatch retention stats                  # evidence bytes/files on disk, rows per table

The rules and their days are ``aggregator.retention`` in the config (aggregator/retention.py).
The aggregator runs them itself every ``retention.every_s``; set it to 0 when a CronJob
runs this command instead. Both may run at once: each batch is its own transaction and
an event already changed by the other is simply not found again.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from gridwatch.cli.common import db_option, json_option, print_table, settings_from

log = logging.getLogger(__name__)


def _when(t: float | None) -> str:
    return "-" if t is None else datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%MZ")


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def report_rows(report: Any, days: Any) -> list[list[str]]:
    """The table of a report: what, events, files, bytes, oldest, newest."""
    rows = []
    for label, tally in (
        (f"clips (events older than {days.clip_days:g} d)", report.clips),
        (
            f"images (cases settled {days.closed_case_days:g} d ago; no case: "
            f"{days.caseless_days:g} d)",
            report.images,
        ),
        (f"sighting rows older than {days.sighting_days:g} d -> hourly counts", report.rows),
        ("kept past a cutoff: their case is open or settled lately", report.kept),
    ):
        rows.append(
            [
                label,
                f"{tally.count:,}",
                f"{tally.files:,}",
                _mb(tally.bytes),
                _when(tally.oldest),
                _when(tally.newest),
            ]
        )
    return rows


@click.group()
def retention() -> None:
    """Delete old evidence and sightings by the retention rules (never an open case's)."""


def _target(ctx: click.Context, db_url: str | None, evidence_dir: Path | None) -> Any:
    from gridwatch.db import open_db

    settings = settings_from(ctx)
    config = settings.aggregator
    evidence = evidence_dir or config.evidence_dir or settings.data_dir() / "evidence"
    return settings, open_db(settings.database_url(db_url)), evidence


_evidence_option = click.option(
    "--evidence-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Evidence folder (default: config, else data_dir/evidence).",
)


@retention.command()
@db_option
@_evidence_option
@click.option("--dry-run", is_flag=True, help="Say what would be deleted; delete nothing.")
@json_option
@click.pass_context
def run(
    ctx: click.Context, db_url: str | None, evidence_dir: Path | None, dry_run: bool, as_json: bool
) -> None:
    """Apply the retention rules once and report what went (or would go)."""
    from sqlalchemy.exc import SQLAlchemyError

    from aggregator.retention import Retention

    settings, engine, evidence = _target(ctx, db_url, evidence_dir)
    days = settings.aggregator.retention
    try:
        report = Retention(engine, evidence, days).run(dry_run=dry_run)
    except (SQLAlchemyError, OSError) as exc:  # exit 1: a cron job or a Job retries
        why = f"retention failed (the next run takes up where this one stopped): {exc}"
        raise click.ClickException(why) from exc
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=1))
        return
    verb = "would delete (dry run: nothing deleted)" if dry_run else "deleted"
    click.echo(f"retention {verb}, evidence in {evidence}:")
    print_table(report_rows(report, days), ["what", "events", "files", "bytes", "oldest", "newest"])
    click.echo(
        f"hourly count rows {'to add or update' if dry_run else 'added or updated'}: "
        f"{report.count_rows:,}; {report.seconds:.1f} s"
    )


@retention.command()
@db_option
@json_option
@click.pass_context
def stats(ctx: click.Context, db_url: str | None, as_json: bool) -> None:
    """Evidence bytes and files on disk (as the rows say) and rows per table."""
    from aggregator.upkeep import storage_stats

    _settings, engine, _evidence = _target(ctx, db_url, None)
    figures = storage_stats(engine)
    if as_json:
        click.echo(json.dumps(figures, indent=1))
        return
    b = figures["evidence_bytes"]
    click.echo(
        f"evidence: {_mb(b['clip'])} in clips, {_mb(b['image'])} in images, "
        f"{figures['evidence_files']:,} files"
    )
    print_table([[k, f"{v:,}"] for k, v in figures["rows"].items()], ["table", "rows"])
