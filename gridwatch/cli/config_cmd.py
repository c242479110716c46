"""``gridwatch config check``: validate every config file, naming file and key path."""

from __future__ import annotations

from pathlib import Path

import click

from gridwatch.config import check_files


@click.group()
def config() -> None:
    """Configuration files."""


@config.command("check")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--dir",
    "config_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("configs"),
    show_default=True,
    help="Folder whose *.yaml files are checked when no FILES are given.",
)
def check(files: tuple[Path, ...], config_dir: Path) -> None:
    """Validate config files; print every error as FILE:LINE: KEY.PATH: reason."""
    targets = list(files) or sorted(config_dir.glob("*.yaml"))
    if not targets:
        raise click.ClickException(f"no config files found in {config_dir}")
    checked, issues, unknown = check_files(targets)
    for file in unknown:
        click.echo(f"{file}: skipped (no schema is registered for this file name)", err=True)
    for issue in issues:
        click.echo(str(issue), err=True)
    if issues:
        raise SystemExit(1)
    click.echo(f"ok: {len(checked)} file(s) valid: " + ", ".join(str(f) for f in checked))
