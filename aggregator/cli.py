"""``gridwatch aggregator``: run the aggregator that turns events into cases."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from gridwatch.cli.common import db_option, settings_from


@click.group()
def aggregator() -> None:
    """The central aggregator (ZeroMQ receiver, case store, metrics)."""


@aggregator.command()
@click.option("--bind", default=None, metavar="ENDPOINT", help="e.g. tcp://0.0.0.0:5555.")
@db_option
@click.option(
    "--evidence-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Where evidence files go (default: config, else data_dir/evidence).",
)
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None, help="0: off.")
@click.option(
    "--web-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Also serve the web UI and API on this port (same process).",
)
@click.option("--web-host", default="127.0.0.1", show_default=True, help="Address of the web UI.")
@click.pass_context
def run(
    ctx: click.Context,
    bind: str | None,
    db_url: str | None,
    evidence_dir: Path | None,
    metrics_port: int | None,
    web_port: int | None,
    web_host: str,
) -> None:
    """Receive events from edge agents until SIGTERM/SIGINT (then finish and exit 0)."""
    from aggregator.service import AggregatorService

    settings = settings_from(ctx)
    config = settings.aggregator.model_copy(deep=True)
    if bind is not None:
        config.receiver.bind = bind
    if metrics_port is not None:
        config.metrics_port = metrics_port
    evidence = evidence_dir or config.evidence_dir or settings.data_dir() / "evidence"
    # Start, stop and the security notice are worth seeing without -v.
    for name in ("aggregator", "gridwatch.aggregator"):
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() > logging.INFO:
            logger.setLevel(logging.INFO)
    service = AggregatorService(
        config,
        db_url=settings.database_url(db_url),
        evidence_dir=evidence,
        web_port=web_port,
        web_host=web_host,
        settings=settings.model_copy(update={"aggregator": config}),
    )
    sys.exit(service.run())
