"""``gridwatch scenes make``: write the composed test scenes (MP4 + ground-truth JSON)."""

from __future__ import annotations

import time
from pathlib import Path

import click

from gridwatch.scenes.compose import SCENES, MissingFootageError, compose_scene


def _size(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in value.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"expected WIDTHxHEIGHT such as 1280x720, got {value!r}") from None
    if w < 64 or h < 64 or w % 2 or h % 2:
        raise click.BadParameter(f"width and height must be even and at least 64, got {value}")
    return w, h


@click.command()
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for <scene>.mp4 and <scene>.json.",
)
@click.option(
    "--scene",
    "names",
    multiple=True,
    type=click.Choice(sorted(SCENES)),
    help="Scene to write (repeatable; default: all).",
)
@click.option(
    "--seconds",
    type=click.FloatRange(min=1.0),
    default=None,
    help="Length of each clip (default: each scene's own, 30-45 s).",
)
@click.option(
    "--size", default="1280x720", callback=_size, show_default=True, help="Frame size WIDTHxHEIGHT."
)
@click.option("--fps", type=click.IntRange(1, 60), default=10, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same frames.")
@click.option("--h264", is_flag=True, help="Also write <scene>.h264 for the RTSP test server.")
@click.option(
    "--hold",
    "hold_s",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Also write <scene>_held.mp4 with the last frame held this many seconds "
    "(positive scenes; for gridwatch eval).",
)
def make(
    out_dir: Path,
    names: tuple[str, ...],
    seconds: float | None,
    size: tuple[int, int],
    fps: int,
    seed: int,
    h264: bool,
    hold_s: float,
) -> None:
    """Compose camera-like clips from real footage (OpenCV's vtest.avi) with ground truth.

    Also writes labels.json (shared/FOOTAGE.md's format) for `gridwatch eval`.
    """
    from gridwatch.scenes.labels import write_labels

    click.echo(f"{'scene':<12} {'seconds':>7} {'events':<8} {'t_appear':>8} {'MB':>6} {'took':>6}")
    for name in names or tuple(SCENES):
        started = time.monotonic()
        try:
            info = compose_scene(
                name,
                out_dir,
                seconds=seconds,
                fps=fps,
                size=size,
                seed=seed,
                h264=h264,
                hold_s=hold_s,
            )
        except MissingFootageError as exc:
            raise click.ClickException(str(exc)) from None
        except ValueError as exc:
            raise click.ClickException(f"{name}: {exc}") from None
        codes = ",".join(ev.event_code for ev in info.expected) or "-"
        appear = ",".join(f"{ev.t_appear_s:.1f}" for ev in info.expected) or "-"
        mb = info.mp4.stat().st_size / 1e6
        took = time.monotonic() - started
        click.echo(
            f"{name:<12} {info.duration_s:>7.1f} {codes:<8} {appear:>8} {mb:>6.1f} {took:>5.0f}s"
        )
    click.echo(f"labels for gridwatch eval: {write_labels(out_dir)}")
