"""``gridwatch scenes``: make camera-like test scenes and serve them as live RTSP cameras."""

from __future__ import annotations

import click


@click.group()
def scenes() -> None:
    """Test scenes: compose clips from real footage, serve them over RTSP."""


def _register() -> None:
    # Each command lives next to the code it drives; imported here, on first use of
    # `gridwatch scenes`, never at CLI start-up.
    from gridwatch.scenes.compose_cli import make
    from gridwatch.scenes.serve_cli import serve

    scenes.add_command(make)
    scenes.add_command(serve)


_register()
