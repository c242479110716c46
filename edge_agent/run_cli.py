"""``gridwatch edge run``: run this GPU node's share of the cameras."""

from __future__ import annotations

import os
from pathlib import Path

import click

from gridwatch.cli.common import db_option, settings_from


@click.command()
@click.option(
    "--node",
    "node_id",
    default=None,
    help="This node's id in the node list, or a pod name <set>-<k> for the k-th node "
    "(default: edge.node_id, $GRIDWATCH_NODE_ID, hostname).",
)
@db_option
@click.option(
    "--aggregator",
    default=None,
    metavar="ENDPOINT",
    help="The aggregator, e.g. tcp://10.0.0.5:5555.",
)
@click.option(
    "--metrics-port", type=click.IntRange(0, 65535), default=None, help="0 turns metrics off."
)
@click.pass_context
def run(
    ctx: click.Context,
    node_id: str | None,
    db_url: str | None,
    aggregator: str | None,
    metrics_port: int | None,
) -> None:
    """Read this node's cameras, detect events, deliver them to the aggregator.

    Cameras come from the registry by rendezvous hashing over the configured node list;
    runs until SIGTERM/SIGINT and exits non-zero if a part failed.
    """
    from edge_agent.agent import EdgeAgent, default_node_id
    from gridwatch.config import config_path
    from gridwatch.sharding import node_for_name

    settings = settings_from(ctx)
    if aggregator:
        settings.edge.delivery.aggregator = aggregator
    if metrics_port is not None:
        settings.edge.metrics_port = metrics_port
    name = node_id or settings.edge.node_id or default_node_id()
    try:
        node = node_for_name(name, settings.sharding.nodes)
    except KeyError as exc:
        raise click.ClickException(str(exc.args[0])) from None
    if node != name:
        click.echo(f"{name}: pod ordinal → node {node} of the node list", err=True)
    weights = os.environ.get("GRIDWATCH_WEIGHTS_DIR")
    config_file = config_path((ctx.find_root().obj or {}).get("config_file"))
    agent = EdgeAgent(
        settings,
        node_id=node,
        db_url=settings.database_url(db_url),
        weights_dir=Path(weights) if weights else None,
        config_file=config_file if config_file.is_file() else None,
    )
    raise SystemExit(agent.run())
