"""The supervisor the agent uses: cameras spread over worker processes, frames out.

:class:`IngestPool` starts ``IngestConfig.workers`` reader processes
(:mod:`edge_agent.ingest.worker`), owns one shared-memory :class:`FrameSlot` per camera,
and a thread that drains the workers' reports (frame notices, health, counters) and
restarts a worker that dies. :meth:`IngestPool.poll` copies each camera's latest frame
out of its slot once; nothing queues, so a consumer that falls behind loses frames (they
are counted) and never memory.

    >>> with IngestPool(config) as pool:
    ...     pool.set_cameras([CameraSource("cam1", "rtsp://u:p@10.0.0.7/s1", 1.0)])
    ...     for frame in pool.poll(timeout_s=0.5):
    ...         detect(frame.camera_id, frame.image)
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import count
from multiprocessing.connection import Connection, wait
from types import TracebackType
from typing import Any, cast

from edge_agent.config import IngestConfig
from edge_agent.ingest.frames import CameraSource, Frame, FrameSlot
from edge_agent.ingest.health import CameraHealth, CameraStats, IngestStats, WorkerStats
from edge_agent.ingest.worker import (
    Assign,
    Assignment,
    Report,
    Stop,
    raise_open_file_limit,
    run_worker,
)
from gridwatch.protocol import CameraState
from gridwatch.secrets import redact

log = logging.getLogger(__name__)

MAX_RESTARTS = 5  # within RESTART_WINDOW_S; more is a crash loop: the pool gives up
RESTART_WINDOW_S = 60.0
_slot_numbers = count()


class IngestError(RuntimeError):
    """Ingest cannot go on (a worker keeps crashing). The message names the worker, its
    exit code and its cameras; fix the cause (often one camera's stream) and restart."""


@dataclass
class _WorkerSlot:
    """One worker position: its current process and what earlier processes left behind."""

    index: int
    process: Any = None  # multiprocessing Process (spawn context)
    conn: Connection | None = None
    cpu_live: float = 0.0
    cpu_base: float = 0.0
    restarts: int = 0
    restart_times: deque[float] = field(default_factory=lambda: deque(maxlen=MAX_RESTARTS + 1))
    first_error: str | None = None


class IngestPool:
    """Reads many cameras in ``workers`` processes; see the module docstring."""

    def __init__(self, config: IngestConfig, *, workers: int | None = None) -> None:
        self.config = config
        self.n_workers = workers if workers is not None else config.workers
        if self.n_workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.n_workers}")
        self._ctx = multiprocessing.get_context("spawn")
        self._lock = threading.RLock()
        self._new_frames = threading.Condition(self._lock)
        self._workers = [_WorkerSlot(i) for i in range(self.n_workers)]
        self._sources: dict[str, CameraSource] = {}
        self._assigned: dict[str, int] = {}
        self._slots: dict[str, FrameSlot] = {}
        self._health: dict[str, CameraHealth] = {}
        self._live: dict[str, CameraStats] = {}  # as the current worker process reports
        self._base: dict[str, CameraStats] = {}  # left by earlier worker processes
        self._pending: set[str] = set()
        self._errors: list[str] = []
        self._fatal: IngestError | None = None
        self._closing = False
        self._drain: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker processes and the drain thread (cameras come with set_cameras)."""
        if self._drain is not None:
            raise RuntimeError("the ingest pool is already started")
        raise_open_file_limit()
        for worker in self._workers:
            self._spawn(worker)
        self._drain = threading.Thread(target=self._drain_loop, name="ingest-drain", daemon=True)
        self._drain.start()

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop the workers (gracefully, then by force) and remove every slot."""
        with self._lock:
            self._closing = True
            workers = list(self._workers)
        for worker in workers:
            self._send(worker, Stop())
        deadline = time.monotonic() + timeout_s
        for worker in workers:
            if worker.process is not None:
                worker.process.join(max(0.1, deadline - time.monotonic()))
                if worker.process.is_alive():
                    worker.process.kill()
                    worker.process.join(1.0)
        if self._drain is not None:
            self._drain.join(1.0)
        with self._lock:
            for worker in workers:
                if worker.conn is not None:
                    worker.conn.close()
                    worker.conn = None
            for slot in self._slots.values():
                slot.close()
            self._slots.clear()

    def __enter__(self) -> IngestPool:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- cameras -----------------------------------------------------------------------

    def set_cameras(self, sources: Sequence[CameraSource]) -> None:
        """Read exactly ``sources`` from now on: start new ones, restart changed ones (URL or
        interval), stop removed ones. Cameras already running keep their worker."""
        wanted = {s.camera_id: s for s in sources}
        if len(wanted) != len(sources):
            raise ValueError("camera ids in set_cameras must be unique")
        with self._lock:
            for camera_id in set(self._sources) - set(wanted):
                self._remove(camera_id)
            loads = [0] * self.n_workers
            for index in self._assigned.values():
                loads[index] += 1
            for camera_id, source in wanted.items():
                if camera_id not in self._sources:
                    index = loads.index(min(loads))
                    loads[index] += 1
                    self._add(source, index)
                elif self._sources[camera_id] != source:
                    self._health[camera_id] = _connecting(camera_id)
                self._sources[camera_id] = source
            for worker in self._workers:
                self._assign(worker)

    def _add(self, source: CameraSource, index: int) -> None:
        name = f"gw-ingest-{os.getpid()}-{next(_slot_numbers)}"
        self._slots[source.camera_id] = FrameSlot.create(self.config.analysis_max_side, name)
        self._assigned[source.camera_id] = index
        self._health[source.camera_id] = _connecting(source.camera_id)

    def _remove(self, camera_id: str) -> None:
        del self._sources[camera_id]
        del self._assigned[camera_id]
        self._slots.pop(camera_id).close()  # the worker's own mapping stays valid
        self._health.pop(camera_id, None)
        self._live.pop(camera_id, None)
        self._base.pop(camera_id, None)
        self._pending.discard(camera_id)

    def _assign(self, worker: _WorkerSlot) -> None:
        cameras = tuple(
            Assignment(self._sources[c], self._slots[c].name)
            for c, index in self._assigned.items()
            if index == worker.index
        )
        self._send(worker, Assign(cameras))

    def _send(self, worker: _WorkerSlot, message: Any) -> None:
        with self._lock:
            if worker.conn is None:
                return
            # A dead worker: the drain thread restarts it and sends its cameras again.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError, OSError):
                worker.conn.send(message)

    # -- frames, health, stats ---------------------------------------------------------

    def poll(self, timeout_s: float = 0.1) -> list[Frame]:
        """The latest new frame of each camera that has one, waiting up to ``timeout_s``.

        Each frame is one copy out of shared memory, owned by the caller. Raises
        :class:`IngestError` once the pool has given up on a crash-looping worker.
        """
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while not self._pending and self._fatal is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._new_frames.wait(remaining)
            if self._fatal is not None:
                raise self._fatal
            pending, self._pending = self._pending, set()
            frames = [self._slots[c].read(c) for c in pending if c in self._slots]
        return [f for f in frames if f is not None]

    def health(self) -> dict[str, CameraHealth]:
        """Each camera's current health (a snapshot)."""
        with self._lock:
            return dict(self._health)

    def stats(self) -> IngestStats:
        """Counters per camera (over reconnects and worker restarts) and CPU per worker."""
        with self._lock:
            cameras = {}
            for camera_id in self._sources:
                base = self._base.get(camera_id, CameraStats())
                cameras[camera_id] = base.plus(self._live.get(camera_id, CameraStats()))
            loads = [0] * self.n_workers
            for index in self._assigned.values():
                loads[index] += 1
            workers = [
                WorkerStats(
                    index=w.index,
                    pid=w.process.pid if w.process is not None else None,
                    cpu_s=w.cpu_base + w.cpu_live,
                    cameras=loads[w.index],
                    restarts=w.restarts,
                )
                for w in self._workers
            ]
        return IngestStats(cameras=cameras, workers=workers)

    def errors(self) -> list[str]:
        """Errors logged so far (masked): worker crashes and first reader errors."""
        with self._lock:
            return list(self._errors)

    @property
    def fatal(self) -> IngestError | None:
        return self._fatal

    def slot_names(self) -> dict[str, str]:
        """Camera id → name of its shared-memory slot (``/dev/shm/<name>``), for budgets."""
        with self._lock:
            return {c: slot.name for c, slot in self._slots.items()}

    def worker_pids(self) -> list[int | None]:
        with self._lock:
            return [w.process.pid if w.process is not None else None for w in self._workers]

    # -- workers -----------------------------------------------------------------------

    def _spawn(self, worker: _WorkerSlot) -> None:
        ours, theirs = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(
            target=run_worker,
            args=(worker.index, self.config.model_dump(), theirs),
            name=f"gridwatch-ingest-{worker.index}",
            daemon=True,
        )
        process.start()
        theirs.close()
        with self._lock:
            worker.process, worker.conn, worker.cpu_live = process, ours, 0.0

    def _drain_loop(self) -> None:
        while not self._closing:
            with self._lock:
                conns = {w.conn: w for w in self._workers if w.conn is not None}
            if not conns:
                time.sleep(0.1)
                continue
            for ready in wait(list(conns), timeout=0.2):
                conn = cast(Connection, ready)
                worker = conns[conn]
                try:
                    report = conn.recv()
                except (EOFError, OSError):
                    self._worker_died(worker)
                    continue
                self._apply(worker, report)

    def _apply(self, worker: _WorkerSlot, report: Report) -> None:
        with self._lock:
            for health in report.health:
                if health.camera_id in self._sources:
                    self._health[health.camera_id] = health
            for camera_id, t_wall in report.frames.items():
                current = self._health.get(camera_id)
                if current is not None:
                    self._health[camera_id] = _with_last_frame(current, t_wall)
                    self._pending.add(camera_id)
            for camera_id, message in report.errors:
                self._record_error(f"camera {camera_id} on ingest worker {worker.index}: {message}")
            if report.stats is not None:
                for camera_id, stats in report.stats.items():
                    self._live[camera_id] = stats
            if report.cpu_s is not None:
                worker.cpu_live = report.cpu_s
            if report.frames:
                self._new_frames.notify_all()

    def _record_error(self, message: str) -> None:
        message = redact(message)
        if not self._errors or self._errors[-1] != message:
            log.error("%s", message)
            self._errors.append(message)

    def _worker_died(self, worker: _WorkerSlot) -> None:
        process = worker.process
        process.join(2.0)
        with self._lock:
            if worker.conn is not None:
                worker.conn.close()
            worker.conn = None
            if self._closing:
                return
            cameras = sorted(c for c, i in self._assigned.items() if i == worker.index)
            shown = _some(cameras)
            self._record_error(
                f"ingest worker {worker.index} (pid {process.pid}) exited with code "
                f"{process.exitcode}; its cameras: {shown or 'none'}; restarting it"
            )
            self._retire(worker, cameras)
            now = time.monotonic()
            worker.restart_times.append(now)
            recent = [t for t in worker.restart_times if now - t < RESTART_WINDOW_S]
            if len(recent) > MAX_RESTARTS:
                self._fatal = IngestError(
                    f"ingest worker {worker.index} crashed {len(recent)} times within "
                    f"{RESTART_WINDOW_S:.0f} s (last exit code {process.exitcode}); "
                    f"cameras: {shown or 'none'}"
                )
                log.error("%s", self._fatal)
                self._new_frames.notify_all()
                return
            worker.restarts += 1
        self._spawn(worker)
        with self._lock:
            self._assign(worker)

    def _retire(self, worker: _WorkerSlot, cameras: list[str]) -> None:
        """Fold a dead process's counters into the base and mark its cameras offline."""
        worker.cpu_base += worker.cpu_live
        worker.cpu_live = 0.0
        for camera_id in cameras:
            live = self._live.pop(camera_id, None)
            if live is not None:
                self._base.setdefault(camera_id, CameraStats()).add(live)
            old = self._health[camera_id]
            self._health[camera_id] = CameraHealth(
                camera_id,
                CameraState.OFFLINE,
                time.time(),
                "ingest worker restarting",
                old.last_frame_at,
            )


def _connecting(camera_id: str) -> CameraHealth:
    return CameraHealth(camera_id, CameraState.CONNECTING, time.time())


def _with_last_frame(health: CameraHealth, t_wall: float) -> CameraHealth:
    return CameraHealth(health.camera_id, health.state, health.since, health.reason, t_wall)


def _some(cameras: list[str], limit: int = 10) -> str:
    more = f" and {len(cameras) - limit} more" if len(cameras) > limit else ""
    return ", ".join(cameras[:limit]) + more
