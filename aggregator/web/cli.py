"""``gridwatch web``: serve the operator UI and API (uvicorn) on its own."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from gridwatch.cli.common import db_option, settings_from


@click.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.option(
    "--evidence-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Evidence folder (default: config, else data_dir/evidence).",
)
@click.pass_context
def web(
    ctx: click.Context, db_url: str | None, host: str, port: int, evidence_dir: Path | None
) -> None:
    """Serve the web UI, the JSON API and Open311 until Ctrl-C."""
    import uvicorn

    from aggregator.web.app import create_app
    from gridwatch.secrets import mask_url

    settings = settings_from(ctx)
    url = settings.database_url(db_url)
    app = create_app(settings, db_url=url, evidence_dir=evidence_dir)
    logging.getLogger("gridwatch.web").warning(
        "serving http://%s:%d (db %s)", host, port, mask_url(url)
    )
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
