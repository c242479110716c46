"""``gridwatch bench edge``: how many live cameras one edge agent serves on this machine.

K live RTSP cameras from the test server (real-footage scenes at the sizes and GOPs
asked, see :mod:`benchmarks.edge_clips`) go into one real :class:`EdgeAgent` for a fixed
time (:mod:`benchmarks.edge_agent_run`). With ``--max-cameras`` K steps 4, 8, 16, ...
until a step no longer holds (fewer than 90 % of the cameras get 90 % of their target
frames, or the agent analyses fewer than 90 % of the frames delivered). Then, on the same
streams: the obvious alternative (ultralytics ``predict(source=.streams, stream=True)``)
and a decode-only comparison (PyAV keyframes / PyAV every frame / OpenCV every frame),
each in a child process (:mod:`benchmarks.edge_probe`) with a time limit.

Every step also measures memory (benchmarks/edge_memory.py): the fit over K gives the
fixed part and what one camera costs, next to what each camera's parts hold.
``--ingest-only`` (benchmarks/edge_ingest.py) drops the detector and runs each size on
its own, so that K can reach 64 or 128 on a CPU machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import Step, print_table, timed, write_json
from benchmarks.edge_agent_run import HOLD_SHARE, run_step
from benchmarks.edge_clips import EVENT_SCENE, Variant, prepare, variants
from benchmarks.edge_memory import SPLIT_HEADERS, memory_split, split_row
from gridwatch.config import Settings

REPO = Path(__file__).resolve().parents[1]
DECODE_MODES = ("pyav-key", "pyav-all", "opencv")


class BenchError(RuntimeError):
    """The benchmark cannot run here (no CUDA, no GStreamer, no weights): the message says
    what is missing."""


@dataclass(frozen=True)
class EdgeOptions:
    steps: list[int]
    seconds: float
    interval: float
    sizes: list[str]
    gops: list[int]
    device: str = "cpu"
    skip_baseline: bool = False
    decode_seconds: float = 5.0
    ingest_only: bool = False


def camera_steps(cameras: int | None, max_cameras: int | None) -> list[int]:
    """``--cameras K``: [K]; ``--max-cameras N``: 4, 8, 16, ... up to N (N included)."""
    if cameras is not None:
        return [cameras]
    top = max_cameras or 32
    steps = [k for k in (4 * 2**i for i in range(20)) if k < top]
    return [*steps, top]


def check_device(device: str) -> None:
    if device != "cuda":
        return
    import torch

    if not torch.cuda.is_available():
        raise BenchError(
            "--device cuda: CUDA is not available on this machine "
            "(torch.cuda.is_available() is False). The GPU path (TensorRT FP16 engine, "
            "batched) needs an NVIDIA GPU, its driver, a CUDA build of torch and TensorRT."
        )


def _weights(settings: Settings) -> tuple[Path | None, Path]:
    from edge_agent.catalogue import load_catalogue

    env = os.environ.get("GRIDWATCH_WEIGHTS_DIR")
    weights_dir = Path(env) if env else None
    entry = load_catalogue(settings.edge.models_catalogue).get(settings.edge.detector.model)
    return weights_dir, entry.require_weights(weights_dir)


def _child(args: list[str], limit_s: float) -> dict[str, Any]:
    """Run a probe; its JSON, or ``{"ok": False, "error": ...}`` (never hidden)."""
    cmd = [sys.executable, "-m", "benchmarks.edge_probe", *args]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    try:
        done = subprocess.run(
            cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=limit_s
        )
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"no result within {limit_s:.0f} s (killed)"}
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return {"ok": False, "error": f"exit {done.returncode}: {' | '.join(tail)}"}
    return {"ok": True, **json.loads(lines[-1])}


def baseline(
    urls: list[str], weights: Path, opts: EdgeOptions, imgsz: int, tmp: Path
) -> dict[str, Any]:
    """ultralytics reading the same K URLs; CPU and frames per camera-second."""
    streams = tmp / "cameras.streams"
    streams.write_text("\n".join(urls) + "\n")
    device = "0" if opts.device == "cuda" else "cpu"
    args = ["ultralytics", str(streams), str(weights), str(opts.seconds), str(imgsz), device]
    out = _child(args, limit_s=opts.seconds + 60 + 2 * len(urls))
    out["cameras"] = len(urls)
    if out["ok"]:
        k, wall = len(urls), out["wall_s"]
        # ultralytics names sources by a cleaned-up URL: count by source, not by name
        counts = sorted(out["per_source"].values(), reverse=True)[:k]
        per_cam = [n / wall for n in counts + [0] * (k - len(counts))]
        out["cpu_per_camera_s"] = out["cpu_s"] / wall / k
        out["frames_per_camera_s"] = sum(per_cam) / k
        served = sum(n * opts.interval + 1 / wall >= HOLD_SHARE for n in per_cam)
        out["cameras_served"] = int(served)  # got 90 % of their target frames
        out["keeps_up"] = served >= HOLD_SHARE * k
        out.pop("per_source")
    return out


def decode_only(server: Any, chosen: list[Variant], seconds: float) -> list[dict[str, Any]]:
    """PyAV keyframes / PyAV all / OpenCV all, one camera of each size × GOP at a time."""
    rows = []
    seen: set[tuple[str, int]] = set()
    for v in chosen:
        if (v.size, v.gop) in seen:
            continue
        seen.add((v.size, v.gop))
        for mode in DECODE_MODES:
            out = _child(["decode", mode, server.url(v.name), str(seconds)], seconds + 40)
            out.update(mode=mode, stream=v.name)
            if out["ok"]:
                out["cpu_per_camera_s"] = out["cpu_s"] / out["wall_s"]
            rows.append(out)
    return rows


def run(settings: Settings, opts: EdgeOptions, json_path: Path | None) -> dict[str, Any]:
    """The whole benchmark; the result document (``results.ok`` False when a step failed)."""
    from gridwatch.scenes.server import RtspServer, RtspServerError, gstreamer_available

    check_device(opts.device)
    if not gstreamer_available():
        raise BenchError("GStreamer's RTSP server is missing for /usr/bin/python3 (VIDEO_NOTES)")
    if opts.ingest_only:
        return _run_ingest_only(settings, opts, json_path)
    weights_dir, weights = _weights(settings)
    chosen = variants(opts.sizes, opts.gops)
    steps: list[Step] = []
    failures: list[str] = []
    results: dict[str, Any] = {"options": opts.__dict__, "device": opts.device}
    with tempfile.TemporaryDirectory(prefix="gw-bench-edge-") as name:
        tmp = Path(name)
        with timed(steps, "prepare clips (cached)"):
            prepare(settings.data_dir() / "bench-clips", chosen, tmp / "serve")
        server = RtspServer(tmp / "serve")
        try:
            server.start()
        except RtspServerError as exc:
            raise BenchError(str(exc)) from None
        with contextlib.ExitStack() as stack:
            stack.callback(server.stop)
            agent_steps = _agent_steps(settings, server, chosen, opts, weights_dir, failures)
            results["steps"] = agent_steps
            results["memory"] = memory_split(agent_steps)
            held = [r for r in agent_steps if r.get("holds")]
            best = held[-1] if held else agent_steps[0]
            results["cameras_held"] = held[-1]["cameras"] if held else 0
            urls = [server.url(chosen[i % len(chosen)].name) for i in range(best["cameras"])]
            if not opts.skip_baseline:
                imgsz = settings.edge.detector.imgsz or 640
                with timed(steps, "ultralytics baseline"):
                    results["baseline"] = baseline(urls, weights, opts, imgsz, tmp)
                if not results["baseline"]["ok"]:
                    failures.append(f"baseline: {results['baseline']['error']}")
                results["compare"] = compare(best, results["baseline"])
                with timed(steps, "decode-only comparison"):
                    results["decode_only"] = decode_only(server, chosen, opts.decode_seconds)
                failures += [
                    f"decode {r['mode']} {r['stream']}: {r['error']}"
                    for r in results["decode_only"]
                    if not r["ok"]
                ]
    results["failures"] = failures
    results["ok"] = not failures
    results["timings"] = [{"name": s.name, "seconds": s.seconds} for s in steps]
    _print(results, opts)
    return write_json(json_path, "edge", results, summary=headline(results))


def headline(results: dict[str, Any]) -> dict[str, Any]:
    """The figures the benchmarks issue named, at the top of the JSON (None: not run).

    ``cameras_served``: the largest K that held; ``baseline_cameras_served``: of the same
    K streams, how many ultralytics gave 90 % of their target frames; decode CPU per
    camera-second: PyAV keyframes-only (ours) and OpenCV decoding every frame (what the
    baseline does), averaged over the streams measured.
    """

    def mean_cpu(mode: str) -> float | None:
        rows = [r for r in results.get("decode_only") or [] if r["ok"] and r["mode"] == mode]
        return sum(r["cpu_per_camera_s"] for r in rows) / len(rows) if rows else None

    base = results.get("baseline") or {}
    return {
        "cameras_served": results.get("cameras_held", 0),
        "baseline_cameras_served": base.get("cameras_served"),
        "decode_cpu_per_camera_s": mean_cpu("pyav-key"),
        "baseline_decode_cpu_per_camera_s": mean_cpu("opencv"),
    }


def _run_ingest_only(
    settings: Settings, opts: EdgeOptions, json_path: Path | None
) -> dict[str, Any]:
    """``--ingest-only``: each size on its own, K stepping, no detector."""
    from benchmarks.edge_ingest import ingest_series, print_ingest
    from gridwatch.scenes.server import RtspServer, RtspServerError

    results: dict[str, Any] = {"options": opts.__dict__, "mode": "ingest-only", "series": {}}
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="gw-bench-ingest-") as name:
        tmp = Path(name)
        chosen = variants(opts.sizes, opts.gops)
        prepare(settings.data_dir() / "bench-clips", chosen, tmp / "serve")
        server = RtspServer(tmp / "serve")
        try:
            server.start()
        except RtspServerError as exc:
            raise BenchError(str(exc)) from None
        try:
            for size in opts.sizes:
                for gop in opts.gops:
                    mine = [v for v in chosen if v.size == size and v.gop == gop]
                    key = f"{size}-g{gop}"
                    series = ingest_series(settings, server, mine, opts.steps, opts)
                    results["series"][key] = series
                    failures += [f"{key}: {e}" for e in series["failures"]]
        finally:
            server.stop()
    results["failures"] = failures
    results["ok"] = not failures
    print_ingest(results, opts)
    return write_json(json_path, "edge", results)


def _agent_steps(
    settings: Settings,
    server: Any,
    chosen: list[Variant],
    opts: EdgeOptions,
    weights_dir: Path | None,
    failures: list[str],
) -> list[dict[str, Any]]:
    out = []
    for k in opts.steps:
        urls = [server.url(chosen[i % len(chosen)].name) for i in range(k)]
        print(f"edge agent: {k} cameras for {opts.seconds:.0f} s ...", flush=True)
        step = run_step(
            settings,
            urls,
            seconds=opts.seconds,
            interval=opts.interval,
            device=opts.device,
            weights_dir=weights_dir,
        )
        step["event_scene_cameras"] = sum(
            chosen[i % len(chosen)].scene == EVENT_SCENE for i in range(k)
        )
        out.append(step)
        if not step["ok"]:
            failures.append(f"agent with {k} cameras: {step['error']}")
            break
        if not step["holds"]:
            break
    return out


def compare(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
    """Ours vs ultralytics on the same K cameras: CPU per camera-second and cameras per core."""
    if not (ours.get("ok") and theirs.get("ok")):
        return {}
    cpu_ours, cpu_theirs = ours["total_cpu_per_camera_s"], theirs["cpu_per_camera_s"]
    return {
        "cpu_per_camera_s_ours": cpu_ours,
        "cpu_per_camera_s_ultralytics": cpu_theirs,
        "cpu_ratio_ultralytics_over_ours": cpu_theirs / cpu_ours if cpu_ours else None,
        "cameras_per_core_ours": 1 / cpu_ours if cpu_ours else None,
        "cameras_per_core_ultralytics": 1 / cpu_theirs if cpu_theirs else None,
    }


def _f(value: Any, fmt: str = ".3f") -> str:
    return "-" if value is None else format(value, fmt)


def _print(results: dict[str, Any], opts: EdgeOptions) -> None:
    rows = []
    for r in results.get("steps", []):
        if not r["ok"]:
            rows.append([r["cameras"], "FAILED", r["error"][:80], *["-"] * 9])
            continue
        lat = r["event_latency_s"]
        rows.append(
            [
                r["cameras"],
                "yes" if r["holds"] else "NO",
                f"{r['delivered_fps_per_camera']:.2f}/{r['target_fps_per_camera']:.2f}",
                _f(r["ingest_cpu_per_camera_s"]),
                _f(r["total_cpu_per_camera_s"]),
                f"{r['detector_frames_per_s']:.1f} ({r['detector_busy_share']:.0%} busy)",
                f"{r['mean_batch']:.1f}",
                f"{r['motion_skip_rate']:.0%}",
                f"{r['second_looks']:.0f} ({r['second_look_busy_share']:.1%} busy)",
                f"{_f(lat['p50'], '.2f')} (n={lat['n']})",
                f"{r['rss_main_mb']:.0f} + {r['rss_workers_mb']:.0f}",
            ]
        )
    print_table(
        f"edge agent on {opts.device}: K cameras, {opts.seconds:.0f} s each, one look every "
        f"{opts.interval:g} s ({', '.join(opts.sizes)}; GOP {', '.join(map(str, opts.gops))})",
        [
            "K",
            "holds",
            "fps/cam got/target",
            "ingest cpu/cam-s",
            "total cpu/cam-s",
            "detector fps",
            "batch",
            "motion skip",
            "second looks",
            "event latency p50 s",
            "RSS MB agent + workers",
        ],
        rows,
    )
    print(f"cameras held: {results.get('cameras_held', 0)}")
    if results.get("memory"):
        print_table(
            "memory split (fit over K: fixed part and MB per camera; measured parts, MB)",
            SPLIT_HEADERS,
            [split_row("agent", results["memory"])],
        )
    _print_baseline(results)


def _print_baseline(results: dict[str, Any]) -> None:
    base = results.get("baseline")
    if base is not None:
        cmp_ = results.get("compare") or {}
        state = "ok" if base["ok"] else f"FAILED: {base['error']}"
        print_table(
            f"ours vs ultralytics predict(.streams, stream=True), {base['cameras']} cameras "
            f"({state})",
            ["figure", "ours", "ultralytics"],
            [
                [
                    "CPU s per camera-second",
                    _f(cmp_.get("cpu_per_camera_s_ours")),
                    _f(cmp_.get("cpu_per_camera_s_ultralytics")),
                ],
                [
                    "cameras per core",
                    _f(cmp_.get("cameras_per_core_ours"), ".1f"),
                    _f(cmp_.get("cameras_per_core_ultralytics"), ".1f"),
                ],
                ["analysed frames per camera-second", "-", _f(base.get("frames_per_camera_s"))],
                ["keeps up with the target", "-", str(base.get("keeps_up", "-"))],
            ],
        )
    decode = results.get("decode_only")
    if decode:
        print_table(
            "decode only, one camera at a time (CPU s per camera-second)",
            ["stream", *DECODE_MODES],
            [
                [
                    stream,
                    *(
                        _f(r.get("cpu_per_camera_s")) if r["ok"] else "FAILED"
                        for r in decode
                        if r["stream"] == stream
                    ),
                ]
                for stream in dict.fromkeys(r["stream"] for r in decode)
            ],
        )
    for failure in results["failures"]:
        print(f"FAILED: {failure}")
