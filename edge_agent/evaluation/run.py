"""Replaying the clips of a labels file, in parallel processes, with progress.

Each clip goes through :func:`edge_agent.replay.replay_video`, the pipeline of
``gridwatch edge replay`` (motion gate, detector, static objects, tracker, rules), with
the rules and model it is given and the zones its ``--zones-mode`` asks for. Workers
load the detector once and report progress per sample through a queue, so one bar can
run over the frames of every clip.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from enum import StrEnum
from multiprocessing import get_context
from pathlib import Path
from queue import Empty
from typing import TYPE_CHECKING, Any

from edge_agent.evaluation.labels import Clip
from gridwatch.registry.zones import Zone, ZonePurpose

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from edge_agent.detections import Detections

WHOLE = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))
# The purposes an engineer covering a whole picture would draw: the rules that apply to
# any street (not those defined by their place, like bin areas or shopfronts).
WHOLE_FRAME_PURPOSES = (
    ZonePurpose.NO_DUMPING,
    ZonePurpose.NO_VENDING,
    ZonePurpose.NO_PARKING,
    ZonePurpose.BIKE_PARKING,
)


class ClipError(RuntimeError):
    """A clip could not be replayed (unreadable, vanished); the message names it.

    Recover by rebuilding the clip (or leaving it out with ``--only``)."""


class ZonesMode(StrEnum):
    """Which zones a clip is replayed with."""

    LABELS = "labels"  # the labels file's zones where it has them, else none
    WHOLE_FRAME = "whole-frame"  # whole-picture zones of every street purpose
    NONE = "none"  # no zones: the defaults of a camera nobody drew zones on


def zones_for_clip(clip: Clip, mode: ZonesMode) -> list[Zone]:
    """The zones ``clip`` is replayed with under ``mode``."""
    if mode is ZonesMode.LABELS:
        return clip.zone_list()
    if mode is ZonesMode.WHOLE_FRAME:
        return [Zone(f"whole-{p.value}", p, WHOLE) for p in WHOLE_FRAME_PURPOSES]
    return []


@dataclass(frozen=True)
class EvalOptions:
    """What every clip is replayed with."""

    rules_file: Path | None = None
    catalogue: Path | None = None
    model: str | None = None
    imgsz: int | None = None
    interval: float = 1.0
    zones_mode: ZonesMode = ZonesMode.LABELS
    config_file: Path | None = None
    keep_evidence: bool = False


TraceBox = tuple[str, float, tuple[float, float, float, float]]  # word, conf, normalized xyxy


@dataclass
class ClipRun:
    """What replaying one clip produced (picklable: it comes back from a worker)."""

    index: int
    events: list[dict[str, Any]]
    replayed_s: float
    samples: int
    detector_runs: int
    detect_s: float
    wall_s: float
    jpegs: dict[str, bytes] = field(default_factory=dict)  # event id -> evidence JPEG
    trace: list[tuple[float, list[TraceBox]]] = field(default_factory=list)


ProgressHook = Callable[[int], None]


class _Pipeline:
    """The per-process parts every clip shares: rules, model, detector, edge config."""

    def __init__(self, options: EvalOptions) -> None:
        from edge_agent.catalogue import load_catalogue
        from edge_agent.detector import Detector
        from edge_agent.rules.config import for_model, load_rules
        from gridwatch.config import load_settings

        self.options = options
        self.edge = load_settings(options.config_file).edge
        self.entry = load_catalogue(options.catalogue).get(options.model)
        self.rules = for_model(load_rules(options.rules_file).active(), self.entry.words())
        config = self.edge.detector.model_copy(
            update={"model": self.entry.name, "imgsz": options.imgsz or self.edge.detector.imgsz}
        )
        self.detector = Detector(self.entry, config)

    def run(self, clip: Clip, progress: ProgressHook | None) -> ClipRun:
        try:
            return self._run(clip, progress)
        except Exception as exc:  # av.error.* and friends: this clip cannot be replayed
            raise ClipError(f"{clip.path}: cannot replay ({exc})") from exc

    def _run(self, clip: Clip, progress: ProgressHook | None) -> ClipRun:
        from edge_agent.analyzer import CameraAnalyzer
        from edge_agent.replay import ReplayStats, replay_video

        opts = self.options
        analyzer = CameraAnalyzer(
            Path(clip.file).stem,
            zones_for_clip(clip, opts.zones_mode),
            self.rules,
            model=self.entry.name,
            motion=self.edge.motion,
            evidence=self.edge.evidence,
            static=self.edge.static,
        )
        stats = ReplayStats()
        trace: list[tuple[float, list[TraceBox]]] = []

        def on_sample(t: float, image: npt.NDArray[np.uint8], seen: Detections) -> None:
            h, w = image.shape[:2]
            boxes = [
                (word, float(conf), tuple(float(v) for v in box))
                for word, conf, box in zip(
                    seen.labels, seen.confidence, seen.normalized(w, h), strict=True
                )
            ]
            trace.append((t, boxes))  # type: ignore[arg-type]
            if progress is not None:
                progress(1)

        started = time.perf_counter()
        events, jpegs = [], {}
        for event in replay_video(
            clip.path,
            analyzer,
            self.detector,
            interval=opts.interval,
            max_side=self.edge.ingest.analysis_max_side,
            stats=stats,
            on_sample=on_sample,
        ):
            events.append(event.summary())
            if opts.keep_evidence and event.jpeg:
                jpegs[event.event_id] = event.jpeg
        if stats.samples == 0:
            raise ClipError(f"{clip.path}: no video frames")
        return ClipRun(
            index=clip.index,
            events=events,
            replayed_s=stats.last_t + opts.interval,
            samples=stats.samples,
            detector_runs=stats.detector_runs,
            detect_s=stats.detect_s,
            wall_s=time.perf_counter() - started,
            jpegs=jpegs,
            trace=trace if opts.keep_evidence else [],
        )


# -- worker processes ---------------------------------------------------------------------

_WORKER: dict[str, Any] = {}


def _init_worker(options: EvalOptions, queue: Any, threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    _WORKER["pipeline"] = _Pipeline(options)
    _WORKER["queue"] = queue


def _run_in_worker(clip: Clip) -> ClipRun:
    queue = _WORKER["queue"]
    pending = 0

    def progress(n: int) -> None:
        nonlocal pending
        pending += n
        if pending >= 10:  # a message per ten samples is plenty for a bar
            queue.put(pending)
            pending = 0

    run: ClipRun = _WORKER["pipeline"].run(clip, progress)
    if pending:
        queue.put(pending)
    return run


def run_clips(
    clips: Sequence[Clip], options: EvalOptions, jobs: int, progress: ProgressHook
) -> list[ClipRun]:
    """Replay every clip (``jobs`` processes; 1: in this process); results in clip order.

    The first clip that fails stops the run: its error is raised after the other
    workers are cancelled.
    """
    if jobs <= 1 or len(clips) <= 1:
        pipeline = _Pipeline(options)
        return [pipeline.run(clip, progress) for clip in clips]
    ctx = get_context("spawn")
    manager = ctx.Manager()
    queue = manager.Queue()
    threads = max(1, (os.cpu_count() or 1) // jobs)
    # Longest first, so no long clip starts last and runs alone.
    order = sorted(clips, key=lambda c: -_size(c.path))
    results: dict[int, ClipRun] = {}
    try:
        with ProcessPoolExecutor(
            jobs, mp_context=ctx, initializer=_init_worker, initargs=(options, queue, threads)
        ) as pool:
            pending: set[Future[ClipRun]] = {pool.submit(_run_in_worker, c) for c in order}
            try:
                while pending:
                    done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                    _drain(queue, progress)
                    for future in done:
                        run = future.result()  # re-raises a worker's error here
                        results[run.index] = run
            except BaseException:
                for future in pending:
                    future.cancel()
                raise
            _drain(queue, progress)
    finally:
        manager.shutdown()
    return [results[c.index] for c in clips]


def _drain(queue: Any, progress: ProgressHook) -> None:
    while True:
        try:
            progress(int(queue.get_nowait()))
        except Empty:
            return


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
