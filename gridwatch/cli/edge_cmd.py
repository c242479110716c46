"""``gridwatch edge``: run an edge agent on a GPU node, or replay a recorded file."""

from __future__ import annotations

import click

from gridwatch.cli import LazyGroup

COMMANDS = {
    "run": ("edge_agent.run_cli:run", "Run this node's share of the cameras."),
    "replay": ("edge_agent.replay:replay", "Run the pipeline on a recorded video file."),
}


@click.group(cls=LazyGroup, lazy=COMMANDS)
def edge() -> None:
    """The edge agent (one per GPU node)."""
