"""``gridwatch keys``: CURVE key pairs for agents and the aggregator."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def keys() -> None:
    """CURVE keys (encryption and authentication between agents and the aggregator)."""


@keys.command()
@click.argument("name")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("keys"),
    show_default=True,
    help="Folder to write NAME.key (public) and NAME.key_secret (secret) into.",
)
def generate(name: str, out_dir: Path) -> None:
    """Generate a key pair NAME (an agent's node id, or e.g. 'aggregator')."""
    from gridwatch.keys import generate as make_pair

    for path in (out_dir / f"{name}.key", out_dir / f"{name}.key_secret"):
        if path.exists():
            raise click.ClickException(f"{path} exists; not overwriting a key")
    public, secret = make_pair(name, out_dir)
    click.echo(f"public key: {public} (give to the other side)")
    click.echo(f"secret key: {secret} (keep here, mode 600)")
