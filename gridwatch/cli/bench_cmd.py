"""``gridwatch bench``: benchmarks that print tables and write JSON (see benchmarks/README.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from gridwatch.cli.common import settings_from

QUICK_HELP = "A small run, under a minute: smaller defaults for the options not given."


@click.group()
def bench() -> None:
    """Throughput and scale benchmarks (each takes --quick and --json PATH)."""


def quick_defaults(ctx: click.Context, values: dict[str, Any], quick: dict[str, Any]) -> None:
    """With ``--quick``, replace the defaults of options the user did not give."""
    for name, value in quick.items():
        if ctx.get_parameter_source(name) is ParameterSource.DEFAULT:
            values[name] = value


@bench.command()
@click.option("--count", type=click.IntRange(min=100), default=200_000, show_default=True)
@click.option("--nodes", "node_count", type=click.IntRange(min=2), default=100, show_default=True)
@click.option(
    "--db", "db_url", default=None, help="Database URL (default: a temporary SQLite file)."
)
@click.option("--json", "json_path", type=click.Path(path_type=Path, dir_okay=False), default=None)
@click.option("--quick", is_flag=True, help=QUICK_HELP + " (20,000 cameras, 20 nodes)")
@click.pass_context
def registry(
    ctx: click.Context,
    count: int,
    node_count: int,
    db_url: str | None,
    json_path: Path | None,
    quick: bool,
) -> None:
    """Generate, validate, locate, import and shard a city of cameras."""
    from benchmarks.registry import run

    opts = {"count": count, "node_count": node_count}
    if quick:
        quick_defaults(ctx, opts, {"count": 20_000, "node_count": 20})
    run(opts["count"], opts["node_count"], db_url, settings_from(ctx).grid.file, json_path)


def _csv(kind: type, value: str) -> list:
    try:
        return [kind(v.strip()) for v in value.split(",") if v.strip()]
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@bench.command()
@click.option("--cameras", type=click.IntRange(min=1), default=None, help="Run this K only.")
@click.option(
    "--max-cameras",
    type=click.IntRange(min=1),
    default=None,
    help="Step K = 4, 8, 16, ... up to this until a step does not hold (default 32).",
)
@click.option("--seconds", type=click.FloatRange(min=2), default=30.0, show_default=True)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=1.0,
    show_default=True,
    help="Target analysis interval per camera (s).",
)
@click.option("--sizes", default="720p,1080p", show_default=True, help="360p, 720p, 1080p.")
@click.option("--gops", default="25,50", show_default=True, help="Keyframe intervals (frames).")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--skip-baseline", is_flag=True, help="No ultralytics / decode-only comparison.")
@click.option("--decode-seconds", type=click.FloatRange(min=1), default=5.0, show_default=True)
@click.option(
    "--ingest-only",
    is_flag=True,
    help="No detector: ingest + per-camera analysis state, each size on its own (K to 64+).",
)
@click.option("--steps", default=None, help="K values to run, e.g. 8,16,32,64 (any mode).")
@click.option("--json", "json_path", type=click.Path(path_type=Path, dir_okay=False), default=None)
@click.option(
    "--quick",
    is_flag=True,
    help=QUICK_HELP + " (2 cameras of 360p GOP 25 for 8 s, decode 2 s per mode)",
)
@click.pass_context
def edge(
    ctx: click.Context,
    cameras: int | None,
    max_cameras: int | None,
    seconds: float,
    interval: float,
    sizes: str,
    gops: str,
    device: str,
    skip_baseline: bool,
    decode_seconds: float,
    ingest_only: bool,
    steps: str | None,
    json_path: Path | None,
    quick: bool,
) -> None:
    """Live RTSP cameras into one edge agent: cameras held, CPU, detector, latency, memory
    (fixed part and per camera)."""
    from benchmarks.edge import BenchError, EdgeOptions, camera_steps, run

    if sum(v is not None for v in (cameras, max_cameras, steps)) > 1:
        raise click.UsageError("--cameras, --max-cameras and --steps exclude each other")
    if quick:
        values: dict[str, Any] = {
            "seconds": seconds,
            "sizes": sizes,
            "gops": gops,
            "decode_seconds": decode_seconds,
        }
        quick_defaults(
            ctx, values, {"seconds": 8.0, "sizes": "360p", "gops": "25", "decode_seconds": 2.0}
        )
        seconds, sizes, gops = values["seconds"], values["sizes"], values["gops"]
        decode_seconds = values["decode_seconds"]
        if cameras is None and max_cameras is None and steps is None:
            cameras = 2
    opts = EdgeOptions(
        steps=_csv(int, steps) if steps else camera_steps(cameras, max_cameras),
        seconds=seconds,
        interval=interval,
        sizes=_csv(str, sizes),
        gops=_csv(int, gops),
        device=device,
        skip_baseline=skip_baseline,
        decode_seconds=decode_seconds,
        ingest_only=ingest_only,
    )
    try:
        doc = run(settings_from(ctx), opts, json_path)
    except (BenchError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    if not doc["results"]["ok"]:
        ctx.exit(1)


@bench.command()
@click.option("--agents", type=click.IntRange(min=1), default=4, show_default=True)
@click.option(
    "--rate", type=click.FloatRange(min=1), default=500, show_default=True, help="Events/s/agent."
)
@click.option("--burst", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--seconds", type=click.FloatRange(min=1), default=20, show_default=True)
@click.option("--cameras", type=click.IntRange(min=100), default=200_000, show_default=True)
@click.option(
    "--db",
    "db_url",
    default=None,
    help="Database URL (default: temporary SQLite). With --connect: the aggregator's database, "
    "whose cameras the events name and where they are checked.",
)
@click.option(
    "--both", is_flag=True, help="SQLite, then a fresh PostgreSQL database on 127.0.0.1:5432."
)
@click.option(
    "--connect",
    metavar="ENDPOINT",
    default=None,
    help="Load-test a running aggregator at ENDPOINT (tcp://HOST:PORT) instead of starting one; "
    "it may be killed and restarted meanwhile. Needs --db.",
)
@click.option(
    "--events",
    type=click.IntRange(min=1),
    default=None,
    help="With --connect: events to publish in all (default 100,000; --quick 2,000).",
)
@click.option("--json", "json_path", type=click.Path(path_type=Path, dir_okay=False), default=None)
@click.option(
    "--quick",
    is_flag=True,
    help=QUICK_HELP + " (2 agents × 300 ev/s for 5 s, 2,000 cameras; --connect: 2,000 events)",
)
@click.pass_context
def aggregator(
    ctx: click.Context,
    agents: int,
    rate: float,
    burst: int,
    seconds: float,
    cameras: int,
    db_url: str | None,
    both: bool,
    connect: str | None,
    events: int | None,
    json_path: Path | None,
    quick: bool,
) -> None:
    """Simulated edge agents into an aggregator: events/s, latency, lost, duplicated.

    Without --connect it starts its own aggregator on a fresh database; with --connect
    it publishes to one that runs already (see benchmarks/README.md).
    """
    values: dict[str, Any] = {"agents": agents, "rate": rate, "seconds": seconds}
    values["cameras"] = cameras
    if quick:
        quick_defaults(ctx, values, {"agents": 2, "rate": 300.0, "seconds": 5.0, "cameras": 2000})
    if connect is not None:
        doc = _connect(ctx, connect, db_url, both, events, quick, values, burst, json_path)
    else:
        if events is not None:
            raise click.UsageError("--events goes with --connect (else use --rate and --seconds)")
        from benchmarks.aggregator import AggOptions, run

        if both and db_url:
            raise click.UsageError("--both and --db exclude each other")
        urls: list[str | None] = [None, "postgresql"] if both else [db_url]
        opts = AggOptions(
            values["agents"], values["rate"], burst, values["seconds"], values["cameras"]
        )
        doc = run(opts, urls, settings_from(ctx).grid.file, json_path)
    if not doc["results"]["ok"]:
        ctx.exit(1)


def _connect(
    ctx: click.Context,
    endpoint: str,
    db_url: str | None,
    both: bool,
    events: int | None,
    quick: bool,
    values: dict[str, Any],
    burst: int,
    json_path: Path | None,
) -> dict[str, Any]:
    from benchmarks.aggregator_connect import run as run_connect

    if both:
        raise click.UsageError("--both starts its own aggregators; it does not go with --connect")
    if db_url is None:
        raise click.UsageError("--connect needs --db URL: the database the aggregator writes")
    for name in ("seconds", "cameras"):
        if ctx.get_parameter_source(name) is not ParameterSource.DEFAULT:
            raise click.UsageError(f"--{name} does not go with --connect (use --events)")
    count = events if events is not None else (2000 if quick else 100_000)
    try:
        return run_connect(
            endpoint,
            db_url,
            events=count,
            agents=values["agents"],
            rate=values["rate"],
            burst=burst,
            json_path=json_path,
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


@bench.command("small-objects")
@click.option(
    "--sizes", default="0.2,0.25,0.35,0.6", show_default=True, help="Car heights in metres."
)
@click.option("--seconds", type=click.FloatRange(min=30), default=60.0, show_default=True)
@click.option("--slice", "slice_px", type=click.IntRange(64, 960), default=480, show_default=True)
@click.option("--json", "json_path", type=click.Path(path_type=Path, dir_okay=False), default=None)
@click.option("--quick", is_flag=True, help="One car size (3 % of the frame), 35 samples.")
def small_objects(
    sizes: str, seconds: float, slice_px: int, json_path: Path | None, quick: bool
) -> None:
    """A small far car: full frame vs sliced inference (supervision) vs the second look."""
    from benchmarks.small_objects import run

    if quick:
        sizes, seconds = "0.25", 35.0
    run(_csv(float, sizes), seconds, slice_px, json_path)
