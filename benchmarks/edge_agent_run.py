"""One step of ``gridwatch bench edge``: K live RTSP cameras into one real EdgeAgent.

The agent runs in a thread of this process (its ingest workers are its own processes),
reads its cameras from a temporary registry (imported with the real importer), and
publishes to an endpoint where nobody listens, so every event stays in its outbox,
where the frame-to-event latency is read: ``outbox.created_at - t_event`` (``t_event``
is the wall time the triggering frame was decoded). Counters are read twice, after the
warm-up (every camera has delivered a frame) and ``seconds`` later, and differenced.
"""

from __future__ import annotations

import json
import resource
import sqlite3
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY

from benchmarks.edge_memory import WorkerSampler
from gridwatch.config import NodeSpec, Settings

NODE = "bench-edge"
HOLD_SHARE = 0.9  # a camera holds at >= 90 % of its target frames; the step at >= 90 % of them


@dataclass(frozen=True)
class Snapshot:
    at: float
    delivered: dict[str, int]
    dropped: int
    ingest_cpu_s: float
    main_cpu_s: float
    frames: float
    detected: float
    skipped: float
    batches: float
    batch_s: float
    looks: float
    look_s: float


def _sample(name: str) -> float:
    return REGISTRY.get_sample_value(name, {"node": NODE}) or 0.0


def _snapshot(pool: Any) -> Snapshot:
    stats = pool.stats()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return Snapshot(
        at=time.perf_counter(),
        delivered={c: s.delivered for c, s in stats.cameras.items()},
        dropped=sum(s.dropped for s in stats.cameras.values()),
        ingest_cpu_s=stats.cpu_s,
        main_cpu_s=usage.ru_utime + usage.ru_stime,
        frames=_sample("gridwatch_edge_frames_total"),
        detected=_sample("gridwatch_edge_frames_detected_total"),
        skipped=_sample("gridwatch_edge_frames_still_total"),
        batches=_sample("gridwatch_edge_detect_batch_seconds_count"),
        batch_s=_sample("gridwatch_edge_detect_batch_seconds_sum"),
        looks=_sample("gridwatch_edge_second_looks_total"),
        look_s=_sample("gridwatch_edge_second_look_seconds_total"),
    )


def agent_memory(agent: Any, sampler: WorkerSampler) -> dict[str, Any]:
    """The memory figures of benchmarks/edge_memory.py for a running agent: private RSS of
    its process (after a heap trim, and before), the workers' (lowest and highest sample
    of the run), slot bytes, analyzer parts."""
    from benchmarks.edge_memory import MB, mean_parts, proc_memory, shm_resident_bytes
    from edge_agent.budget import trim_heap

    pool = agent.pool
    untrimmed = proc_memory("self")["private_mb"]
    trim_heap()
    me = proc_memory("self")["private_mb"]
    workers, peak = sampler.held_and_peak()
    names = pool.slot_names()
    shm = shm_resident_bytes(names.values()) / MB
    parts = [a.nbytes() for a in list(agent.analyzers.values())]
    rings = [a.clip_ring for a in list(agent.analyzers.values())]
    encoded = sum(r.encoded for r in rings)
    return {
        "memory_agent_private_mb": me,
        "memory_agent_untrimmed_mb": untrimmed,
        "memory_workers_private_mb": workers,
        "memory_workers_peak_mb": peak,
        "memory_slots_mb": shm,
        "memory_total_mb": me + workers + shm,
        "slot_mb_per_camera": shm / len(names) if names else 0.0,
        "analyzer_parts_mb": mean_parts(parts),
        "clip_jpeg_ms": 1000 * sum(r.encode_s for r in rings) / encoded if encoded else None,
    }


def _rss_mb(pid: int | str) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def register(db_url: str, urls: list[str], interval: float, grid_file: Path, tmp: Path) -> None:
    """Put the K cameras in a registry with the real importer (no zones: whole frame)."""
    from gridwatch.grid.model import GridIndex
    from gridwatch.registry.csvfile import write_registry
    from gridwatch.registry.generate import generate_cameras
    from gridwatch.registry.importer import import_registry

    # generate_cameras needs a few dozen cameras to give every street one
    base = generate_cameras(GridIndex.load(grid_file), max(40, len(urls)), seed=3)
    records = [
        replace(r, main_url=u, sub_url=u, analysis_interval_s=interval, zones=())
        for r, u in zip(base, urls, strict=False)
    ]
    csv_path = tmp / "cameras.csv"
    write_registry(records, csv_path)
    import_registry(
        csv_path, db_url, default_grid=grid_file, echo=lambda _m: None, show_progress=False
    )


def agent_settings(settings: Settings, tmp: Path, device: str) -> Settings:
    s = settings.model_copy(deep=True)
    s.sharding.nodes = [NodeSpec(id=NODE)]
    s.sharding.nodes_file = None
    edge = s.edge
    edge.metrics_port = 0
    edge.ingest.registry_poll_s = 3600
    edge.delivery.outbox = tmp / "outbox.db"
    edge.delivery.outbox_sync = "normal"
    edge.delivery.heartbeat_s = 60
    from benchmarks.aggregator_sender import free_endpoint

    edge.delivery.aggregator = free_endpoint()  # nobody listens: events stay in the outbox
    edge.detector.device = "cuda" if device == "cuda" else "cpu"
    if device == "cuda":
        edge.detector.export = "tensorrt"
        edge.detector.batch_size = max(edge.detector.batch_size, 32)
    return s


def _latencies(outbox: Path, since: float) -> list[dict[str, Any]]:
    if not outbox.is_file():
        return []
    with sqlite3.connect(outbox) as db:
        rows = db.execute("SELECT payload, created_at FROM outbox").fetchall()
    out = []
    for payload, created_at in rows:
        p = json.loads(payload)
        out.append(
            {
                "camera_id": p["camera_id"],
                "event_code": p["event_code"],
                "phase": p["phase"],
                "latency_s": created_at - p["t_event"],
                "in_window": p["t_event"] >= since,
            }
        )
    return out


def _wait_warm(agent: Any, k: int, thread: threading.Thread, timeout_s: float) -> float:
    started = time.perf_counter()
    deadline = started + timeout_s
    while time.perf_counter() < deadline and thread.is_alive():
        pool = agent.pool
        if pool is not None:
            cams = pool.stats().cameras
            if len(cams) == k and all(c.delivered > 0 for c in cams.values()):
                return time.perf_counter() - started
        time.sleep(0.2)
    return -1.0


def run_step(
    settings: Settings,
    urls: list[str],
    *,
    seconds: float,
    interval: float,
    device: str,
    weights_dir: Path | None,
) -> dict[str, Any]:
    """Run the agent on ``urls`` for ``seconds`` after warm-up; the step's figures."""
    from edge_agent.agent import EdgeAgent

    k = len(urls)
    with tempfile.TemporaryDirectory(prefix="gw-bench-edge-") as name:
        tmp = Path(name)
        db_url = f"sqlite:///{tmp / 'registry.db'}"
        register(db_url, urls, interval, settings.grid.file, tmp)
        s = agent_settings(settings, tmp, device)
        agent = EdgeAgent(s, node_id=NODE, db_url=db_url, weights_dir=weights_dir)
        codes: list[int] = []
        thread = threading.Thread(
            target=lambda: codes.append(agent.run(install_signals=False)), daemon=True
        )
        thread.start()
        try:
            warm_s = _wait_warm(agent, k, thread, 60.0 + 0.5 * k)
            if warm_s < 0:
                return _failed(k, agent, codes, thread, "not every camera delivered a frame")
            t0, s0 = time.time(), _snapshot(agent.pool)
            end = time.perf_counter() + seconds
            sampler = WorkerSampler()
            while time.perf_counter() < end and thread.is_alive():
                time.sleep(0.2)
                sampler.sample(agent.pool.worker_pids())
            if not thread.is_alive():
                return _failed(k, agent, codes, thread, "the agent stopped during the run")
            s1 = _snapshot(agent.pool)
            pids = [p for p in agent.pool.worker_pids() if p is not None]
            rss_main, rss_workers = _rss_mb("self"), sum(_rss_mb(p) for p in pids)
            memory = agent_memory(agent, sampler)
            reader_errors = agent.pool.errors()
        finally:
            agent.request_stop("benchmark step over")
            thread.join(60)
        events = _latencies(tmp / "outbox.db", t0)
    figures = _figures(k, s0, s1, interval, events)
    figures.update(
        warmup_s=warm_s,
        rss_main_mb=rss_main,
        rss_workers_mb=rss_workers,
        rss_per_camera_mb=(rss_main + rss_workers) / k,
        **memory,
        reader_errors=reader_errors[:5],
        agent_exit_code=codes[0] if codes else None,
    )
    if codes and codes[0] != 0:
        figures["ok"], figures["error"] = False, f"agent exited {codes[0]}: {agent.first_error}"
    return figures


def _failed(
    k: int, agent: Any, codes: list[int], thread: threading.Thread, why: str
) -> dict[str, Any]:
    agent.request_stop("benchmark step failed")
    thread.join(60)
    errors = agent.pool.errors()[:5] if agent.pool is not None else []
    detail = f"{why}; agent error: {agent.first_error}; reader errors: {errors}"
    return {"cameras": k, "ok": False, "holds": False, "error": detail, "exit": codes}


def _figures(
    k: int, s0: Snapshot, s1: Snapshot, interval: float, events: list[dict[str, Any]]
) -> dict[str, Any]:
    wall = s1.at - s0.at
    target = wall / interval
    per_cam = {c: s1.delivered.get(c, 0) - n for c, n in s0.delivered.items()}
    # one frame of slack: a window of a few intervals cuts a frame off at either edge
    holding = sum(n + 1 >= HOLD_SHARE * target for n in per_cam.values())
    delivered = sum(per_cam.values())
    frames = s1.frames - s0.frames
    detected = s1.detected - s0.detected
    batches = s1.batches - s0.batches
    dropped = s1.dropped - s0.dropped
    analysed_share = frames / delivered if delivered else 0.0
    holds = holding >= HOLD_SHARE * k and analysed_share >= HOLD_SHARE
    ingest = s1.ingest_cpu_s - s0.ingest_cpu_s
    main = s1.main_cpu_s - s0.main_cpu_s
    starts = [e for e in events if e["phase"] == "start"]
    lat = sorted(e["latency_s"] for e in starts)
    return {
        "cameras": k,
        "ok": True,
        "holds": holds,
        "seconds": wall,
        "target_fps_per_camera": 1 / interval,
        "delivered_fps_per_camera": delivered / wall / k,
        "cameras_at_target": holding,
        "analysed_share": analysed_share,
        "dropped_frames": dropped,
        "ingest_cpu_per_camera_s": ingest / wall / k,
        "analysis_cpu_per_camera_s": main / wall / k,
        "total_cpu_per_camera_s": (ingest + main) / wall / k,
        "detector_frames_per_s": detected / wall,
        "detector_busy_share": (s1.batch_s - s0.batch_s) / wall,
        "detector_fps_when_busy": detected / (s1.batch_s - s0.batch_s) if detected else 0.0,
        "mean_batch": detected / batches if batches else 0.0,
        "motion_skip_rate": (s1.skipped - s0.skipped) / frames if frames else 0.0,
        "second_looks": s1.looks - s0.looks,
        "second_look_busy_share": (s1.look_s - s0.look_s) / wall,
        "events": len(events),
        "start_events": len(starts),
        "event_latency_s": {
            "n": len(lat),
            "p50": lat[len(lat) // 2] if lat else None,
            "max": lat[-1] if lat else None,
        },
    }
