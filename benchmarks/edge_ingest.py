"""One step of ``gridwatch bench edge --ingest-only``: K cameras, no detector.

The agent's pipeline without YOLO, so that this CPU machine can step K to 64 or 128 and
measure what a camera costs apart from the detector: the real :class:`IngestPool` (its
worker processes read RTSP, decode keyframes, shrink into each camera's shared-memory
slot) and, in this process as in the agent's, one :class:`CameraAnalyzer` per camera fed
every frame with no detections (motion gate, static-object backgrounds, tracker, rules,
the clip ring's JPEGs). What is measured:

* ingest CPU per camera-second (the workers' CPU, as the agent's bench reports it),
* analysis CPU per camera-second without the detector (this process),
* memory: private RSS of this process and of the workers, the slots' resident bytes,
  and each analyzer's parts (edge_agent/budget.py); the fit over K is in
  benchmarks/edge_memory.py.
"""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass
from typing import Any

from benchmarks.edge_agent_run import HOLD_SHARE
from benchmarks.edge_memory import (
    MB,
    WorkerSampler,
    mean_parts,
    proc_memory,
    shm_resident_bytes,
)
from edge_agent.budget import HeapTrim
from gridwatch.config import Settings

WARM_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class _Counts:
    at: float
    delivered: dict[str, int]
    ingest_cpu_s: float
    main_cpu_s: float
    samples: int


def _cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _counts(pool: Any, samples: int) -> _Counts:
    stats = pool.stats()
    return _Counts(
        at=time.perf_counter(),
        delivered={c: s.delivered for c, s in stats.cameras.items()},
        ingest_cpu_s=stats.cpu_s,
        main_cpu_s=_cpu_self(),
        samples=samples,
    )


class _Consumer:
    """Takes every frame like the agent's loop and feeds each camera's analyzer."""

    def __init__(self, settings: Settings, camera_ids: list[str]) -> None:
        from edge_agent.analyzer import CameraAnalyzer
        from edge_agent.rules.config import load_rules

        edge = settings.edge
        rules = load_rules(edge.rules_file).active()
        self.analyzers = {
            c: CameraAnalyzer(
                c, [], rules, motion=edge.motion, evidence=edge.evidence, static=edge.static
            )
            for c in camera_ids
        }
        self.samples = 0
        self._trim = HeapTrim()

    def take(self, pool: Any, timeout_s: float) -> None:
        from edge_agent.detections import Detections

        self._trim.maybe()  # as the agent's loop does

        for frame in pool.poll(timeout_s):
            analyzer = self.analyzers[frame.camera_id]
            detect = analyzer.should_detect(frame.t_wall, frame.image)
            analyzer.process(frame.t_wall, frame.image, Detections.empty() if detect else None)
            self.samples += 1


def run_ingest_step(
    settings: Settings, urls: list[str], *, seconds: float, interval: float
) -> dict[str, Any]:
    """K = len(urls) cameras for ``seconds`` after every camera delivered a frame."""
    from edge_agent.budget import tune_allocator
    from edge_agent.ingest import CameraSource, IngestPool

    tune_allocator()  # as EdgeAgent.serve does
    k = len(urls)
    ids = [f"bench-{i:04d}" for i in range(k)]
    consumer = _Consumer(settings, ids)
    pool = IngestPool(settings.edge.ingest)
    with pool:
        pool.set_cameras([CameraSource(c, u, interval) for c, u in zip(ids, urls, strict=True)])
        deadline = time.monotonic() + WARM_TIMEOUT_S + 0.5 * k
        while time.monotonic() < deadline:
            consumer.take(pool, 0.2)
            cams = pool.stats().cameras
            if len(cams) == k and all(c.delivered > 0 for c in cams.values()):
                break
        else:
            errors = pool.errors()[:5]
            return {"cameras": k, "ok": False, "holds": False, "error": f"not warm: {errors}"}
        c0 = _counts(pool, consumer.samples)
        end = time.perf_counter() + seconds
        workers = WorkerSampler()
        while time.perf_counter() < end:
            consumer.take(pool, 0.2)
            workers.sample(pool.worker_pids())
        c1 = _counts(pool, consumer.samples)
        memory = _memory(pool, workers)
        errors = pool.errors()[:5]
    parts = [a.nbytes() for a in consumer.analyzers.values()]
    rings = [a.clip_ring for a in consumer.analyzers.values()]
    encoded = sum(r.encoded for r in rings)
    figures = _figures(k, c0, c1, interval)
    figures.update(memory)
    figures.update(
        analyzer_parts_mb=mean_parts(parts),
        clip_jpeg_ms=1000 * sum(r.encode_s for r in rings) / encoded if encoded else None,
        reader_errors=errors,
    )
    return figures


def _memory(pool: Any, sampler: WorkerSampler) -> dict[str, Any]:
    """Memory at the end; this process's private part after a heap trim (what it holds)
    and before it (``memory_agent_untrimmed_mb``: the allocator's slack between the trims
    the agent's loop makes every few seconds); the workers' lowest and highest sample."""
    from edge_agent.budget import trim_heap

    pids = [p for p in pool.worker_pids() if p is not None]
    untrimmed = proc_memory("self")["private_mb"]
    trim_heap()
    me = proc_memory("self")
    workers = [proc_memory(p) for p in pids]
    names = pool.slot_names()
    shm = shm_resident_bytes(names.values()) / MB
    private_workers, peak_workers = sampler.held_and_peak()
    return {
        "memory_agent_private_mb": me["private_mb"],
        "memory_agent_untrimmed_mb": untrimmed,
        "memory_workers_private_mb": private_workers,
        "memory_workers_peak_mb": peak_workers,
        "memory_slots_mb": shm,
        "memory_total_mb": me["private_mb"] + private_workers + shm,
        "slot_mb_per_camera": shm / len(names) if names else 0.0,
        "rss_main_mb": me["rss_mb"],
        "rss_workers_mb": sum(w["rss_mb"] for w in workers),
    }


def _figures(k: int, c0: _Counts, c1: _Counts, interval: float) -> dict[str, Any]:
    wall = c1.at - c0.at
    target = wall / interval
    per_cam = {c: c1.delivered.get(c, 0) - n for c, n in c0.delivered.items()}
    holding = sum(n + 1 >= HOLD_SHARE * target for n in per_cam.values())
    delivered = sum(per_cam.values())
    samples = c1.samples - c0.samples
    analysed_share = samples / delivered if delivered else 0.0
    return {
        "cameras": k,
        "ok": True,
        # as the agent's steps: the cameras get their frames and the analysis keeps up
        "holds": holding >= HOLD_SHARE * k and analysed_share >= HOLD_SHARE,
        "seconds": wall,
        "target_fps_per_camera": 1 / interval,
        "delivered_fps_per_camera": delivered / wall / k,
        "cameras_at_target": holding,
        "analysed_share": analysed_share,
        "ingest_cpu_per_camera_s": (c1.ingest_cpu_s - c0.ingest_cpu_s) / wall / k,
        "analysis_cpu_per_camera_s": (c1.main_cpu_s - c0.main_cpu_s) / wall / k,
    }


def ingest_series(
    settings: Settings, server: Any, chosen: list[Any], steps: list[int], opts: Any
) -> dict[str, Any]:
    """One size × GOP: K = each of ``steps`` (stopping after the first that does not
    hold), then the memory split over the steps that ran."""
    from benchmarks.edge_memory import memory_split

    out: list[dict[str, Any]] = []
    failures: list[str] = []
    for k in steps:
        urls = [server.url(chosen[i % len(chosen)].name) for i in range(k)]
        label = f"{chosen[0].size} GOP {chosen[0].gop}"
        print(f"ingest only, {label}: {k} cameras for {opts.seconds:.0f} s ...", flush=True)
        step = run_ingest_step(settings, urls, seconds=opts.seconds, interval=opts.interval)
        out.append(step)
        if not step["ok"]:
            failures.append(f"{k} cameras: {step['error']}")
            break
        if not step["holds"]:
            break
    return {"steps": out, "memory": memory_split(out), "failures": failures}


def print_ingest(results: dict[str, Any], opts: Any) -> None:
    from benchmarks.common import print_table
    from benchmarks.edge_memory import SPLIT_HEADERS, split_row

    rows = []
    for key, series in results["series"].items():
        for r in series["steps"]:
            if not r["ok"]:
                rows.append([key, r["cameras"], "FAILED", r["error"][:60], *["-"] * 5])
                continue
            rows.append(
                [
                    key,
                    r["cameras"],
                    "yes" if r["holds"] else "NO",
                    f"{r['delivered_fps_per_camera']:.2f}/{r['target_fps_per_camera']:.2f}",
                    f"{r['ingest_cpu_per_camera_s']:.4f}",
                    f"{r['analysis_cpu_per_camera_s']:.4f}",
                    f"{r['clip_jpeg_ms']:.1f}" if r.get("clip_jpeg_ms") else "-",
                    f"{r['memory_agent_private_mb']:.0f} + {r['memory_workers_private_mb']:.0f}"
                    f" + {r['memory_slots_mb']:.0f}",
                    f"{r['memory_total_mb']:.0f}",
                ]
            )
    print_table(
        f"ingest only (no detector): K cameras per size, {opts.seconds:.0f} s each, one look "
        f"every {opts.interval:g} s",
        [
            "series",
            "K",
            "holds",
            "fps/cam got/target",
            "ingest cpu/cam-s",
            "analysis cpu/cam-s (no detector)",
            "clip JPEG ms",
            "MB agent + workers + slots",
            "MB total",
        ],
        rows,
    )
    print_table(
        "memory split (fit over K: fixed part and MB per camera; measured parts per camera, MB)",
        SPLIT_HEADERS,
        [split_row(key, s["memory"]) for key, s in results["series"].items() if s["memory"]],
    )
    for failure in results["failures"]:
        print(f"FAILED: {failure}")
