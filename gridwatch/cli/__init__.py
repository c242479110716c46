"""The ``gridwatch`` command line.

Subcommand groups live in their own modules and are imported only when used, so
``gridwatch --help`` and the registry commands start fast: torch, ultralytics and cv2
are imported by the commands that need them, never here.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any

import click

from gridwatch import __version__
from gridwatch.secrets import install_log_redaction

# name -> "module:attribute"; each module defines one click group or command.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "config": ("gridwatch.cli.config_cmd:config", "Check configuration files."),
    "grid": ("gridwatch.cli.grid_cmd:grid", "Build, check, import and query the grid."),
    "cameras": ("gridwatch.cli.cameras_cmd:cameras", "Register, list, probe and shard cameras."),
    "db": ("gridwatch.cli.db_cmd:db", "Create or upgrade the database schema."),
    "demo": ("gridwatch.cli.demo_cmd:demo", "Run the main job on embedded defaults."),
    "scenes": ("gridwatch.cli.scenes_cmd:scenes", "Make test scenes and serve them over RTSP."),
    "edge": ("gridwatch.cli.edge_cmd:edge", "Run an edge agent, or replay a recorded file."),
    "eval": ("edge_agent.evaluation.cli:eval_cmd", "Score detection on labelled footage."),
    "aggregator": ("aggregator.cli:aggregator", "Run the aggregator that turns events into cases."),
    "cases": ("aggregator.cases_cli:cases", "List, show and move cases through the workflow."),
    "retention": (
        "aggregator.retention_cli:retention",
        "Delete old evidence and sightings by the retention rules (or --dry-run).",
    ),
    "bench": ("gridwatch.cli.bench_cmd:bench", "Benchmarks: edge, aggregator, registry."),
    "keys": ("gridwatch.cli.keys_cmd:keys", "Generate CURVE key pairs for agents and aggregator."),
    "web": ("aggregator.web.cli:web", "Serve the operator web UI, JSON API and Open311."),
    "users": ("aggregator.web.users_cli:users", "Add web users, issue API tokens, list users."),
    "dataset": ("training.cli:dataset", "Export a training set from the reviewed cases."),
    "model": ("training.cli:model", "Fine-tune a model on a training set; compare two models."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def __init__(self, *args: Any, lazy: dict[str, tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module, _, attr = self.lazy[cmd_name][0].partition(":")
            command = getattr(importlib.import_module(module), attr)
            assert isinstance(command, click.Command)
            return command
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Show short help without importing every module.
        rows = [(name, self.lazy[name][1]) for name in sorted(self.lazy)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=LazyGroup, lazy=SUBCOMMANDS, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(__version__, prog_name="gridwatch")
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Main config file (default: $GRIDWATCH_CONFIG or configs/gridwatch.yaml).",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.pass_context
def cli(ctx: click.Context, config_file: Path | None, verbose: int) -> None:
    """gridwatch: street problems found on city cameras become cases for their grid."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_redaction()
    ctx.obj = {"config_file": config_file}


def main() -> None:
    cli(prog_name="gridwatch")
