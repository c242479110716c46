"""``gridwatch scenes serve DIR``: serve a folder of clips as live RTSP cameras."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from types import FrameType

import click

from gridwatch.scenes.server import RtspServer, RtspServerError


@click.command()
@click.argument(
    "directory", type=click.Path(exists=True, file_okay=False, dir_okay=True, path_type=Path)
)
@click.option("--port", default=8554, show_default=True, help="TCP port (0 picks a free one).")
@click.option("--address", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--fps",
    default=25,
    show_default=True,
    type=click.IntRange(min=1),
    help="Frame rate for clips without a <stem>.json sidecar.",
)
@click.option("--user", default=None, help="Require basic auth with this user name.")
@click.option(
    "--password-env",
    default=None,
    metavar="VAR",
    help="Environment variable holding the password for --user (never on the command line).",
)
def serve(
    directory: Path,
    port: int,
    address: str,
    fps: int,
    user: str | None,
    password_env: str | None,
) -> None:
    """Serve every *.h264 clip in DIRECTORY as a looping live camera until Ctrl-C.

    Each clip becomes rtsp://ADDRESS:PORT/<stem>. Make clips with `gridwatch scenes make`.
    """
    if (user is None) != (password_env is None):
        raise click.UsageError("--user and --password-env go together")
    password = None
    if password_env is not None:
        password = os.environ.get(password_env)
        if password is None:
            raise click.UsageError(f"--password-env: ${password_env} is not set")
    server = RtspServer(
        directory, port=port, address=address, fps=fps, user=user, password=password
    )
    try:
        server.start()
    except RtspServerError as exc:
        raise click.ClickException(str(exc)) from None

    def on_term(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        for mount in server.mounts:
            # Credentials are never printed: the user only, to show auth is on.
            click.echo(server.url(mount, user=user))
        click.echo(f"serving {len(server.mounts)} camera(s); Ctrl-C to stop", err=True)
        code = server.wait()
        if code != 0:
            raise click.ClickException(f"the RTSP server exited with code {code}")
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
