"""A reader process: many cameras, one :class:`Reader` thread each, reporting to the pool.

The pool (:mod:`edge_agent.ingest.pool`) starts each worker with ``spawn`` and talks to it
over one duplex pipe. Down the pipe come :class:`Assign` (the full list of cameras this
worker reads; the worker diffs it against what it runs) and :class:`Stop`. Up the pipe go
:class:`Report` batches, at most one every ``FLUSH_S``: which cameras have a new frame in
their slot, health changes, first errors, and every ``STATS_S`` the counters and the
process's CPU seconds. Only the worker's main thread touches the pipe.
"""

from __future__ import annotations

import logging
import os
import resource
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from edge_agent.budget import WORKER_MMAP_THRESHOLD, trim_heap, tune_allocator
from edge_agent.config import IngestConfig
from edge_agent.ingest.frames import CameraSource, FrameSlot
from edge_agent.ingest.health import CameraHealth, CameraStats
from edge_agent.ingest.reader import Reader
from gridwatch.secrets import install_log_redaction

log = logging.getLogger(__name__)

FLUSH_S = 0.05  # frame notices wait at most this long (and are batched meanwhile)
STATS_S = 1.0
WATCHDOG_TICK_S = 0.25
STOP_GRACE_S = 1.0


@dataclass(frozen=True)
class Assignment:
    """One camera for a worker: its source and the name of its shared-memory slot."""

    source: CameraSource
    slot: str


@dataclass(frozen=True)
class Assign:
    cameras: tuple[Assignment, ...]


@dataclass(frozen=True)
class Stop:
    pass


@dataclass
class Report:
    """What a worker tells the pool; empty fields are simply empty."""

    pid: int
    frames: dict[str, float] = field(default_factory=dict)  # camera id → Unix time
    health: list[CameraHealth] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (camera id, masked text)
    stats: dict[str, CameraStats] | None = None
    cpu_s: float | None = None

    def __bool__(self) -> bool:
        return bool(self.frames or self.health or self.errors or self.stats is not None)


def cpu_seconds() -> float:
    """User + system CPU seconds of this process, all threads (FFmpeg's included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def raise_open_file_limit() -> None:
    """Each camera holds a socket and a slot mapping: lift the soft fd limit to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Worker:
    """Runs the readers of one process and batches their reports (see the module doc)."""

    def __init__(self, index: int, config: IngestConfig, conn: Connection) -> None:
        self.index = index
        self.config = config
        self.conn = conn
        self.readers: dict[str, Reader] = {}
        self.stats: dict[str, CameraStats] = {}
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._pending = Report(pid=os.getpid())

    # -- reader callbacks (reader threads) ---------------------------------------------

    def _on_health(self, health: CameraHealth) -> None:
        with self._lock:
            self._pending.health.append(health)

    def _on_frame(self, camera_id: str, t_wall: float) -> None:
        with self._lock:
            self._pending.frames[camera_id] = t_wall

    def _on_error(self, camera_id: str, message: str) -> None:
        with self._lock:
            self._pending.errors.append((camera_id, message))

    # -- commands ----------------------------------------------------------------------

    def assign(self, cameras: tuple[Assignment, ...]) -> None:
        """Start, restart (URL or interval changed) and stop readers to match ``cameras``."""
        wanted = {a.source.camera_id: a for a in cameras}
        for camera_id in list(self.readers):
            if camera_id not in wanted:
                self.readers.pop(camera_id).stop()
                self.stats.pop(camera_id, None)
        for camera_id, assignment in wanted.items():
            current = self.readers.get(camera_id)
            if current is not None and current.source == assignment.source:
                continue
            previous = current.stop() if current is not None else None
            self.readers[camera_id] = self._start_reader(assignment, previous)

    def _start_reader(self, assignment: Assignment, after: threading.Thread | None) -> Reader:
        camera_id = assignment.source.camera_id
        stats = self.stats.setdefault(camera_id, CameraStats())
        reader = Reader(
            assignment.source,
            FrameSlot.attach(assignment.slot),
            self.config,
            stats,
            on_health=self._on_health,
            on_frame=self._on_frame,
            on_error=self._on_error,
        )
        reader.start(after=after)
        return reader

    # -- main loop ---------------------------------------------------------------------

    def run(self) -> None:
        next_stats = next_watchdog = time.monotonic()
        while not self.stopping.is_set():
            if self.conn.poll(FLUSH_S):
                self._handle(self.conn.recv())
            now = time.monotonic()
            if now >= next_watchdog:
                for reader in list(self.readers.values()):
                    reader.check_watchdog(now)
                next_watchdog = now + WATCHDOG_TICK_S
            with_stats = now >= next_stats
            if with_stats:
                next_stats = now + STATS_S
                trim_heap()  # freed frame buffers back to the system (edge_agent/budget.py)
            self.flush(with_stats)
        for reader in self.readers.values():
            reader.stop()
        self.flush(with_stats=True)

    def _handle(self, message: Any) -> None:
        if isinstance(message, Assign):
            self.assign(message.cameras)
        elif isinstance(message, Stop):
            self.stopping.set()
        else:
            raise TypeError(f"unknown command {type(message).__name__}")

    def flush(self, with_stats: bool) -> None:
        with self._lock:
            report, self._pending = self._pending, Report(pid=os.getpid())
        if with_stats:
            report.stats = {k: _copy(v) for k, v in self.stats.items()}
            report.cpu_s = cpu_seconds()
        if report:
            self.conn.send(report)


def _copy(stats: CameraStats) -> CameraStats:
    return CameraStats(**vars(stats))


def run_worker(index: int, config: dict[str, Any], conn: Connection) -> None:
    """Entry point of a spawned worker process: run until :class:`Stop`, SIGTERM or EOF."""
    logging.basicConfig(
        level=logging.INFO,
        format=f"%(asctime)s ingest-{index} %(levelname)s %(name)s: %(message)s",
    )
    install_log_redaction()
    raise_open_file_limit()
    # before the reader threads make their own malloc arenas (edge_agent/budget.py)
    tune_allocator(mmap_threshold=WORKER_MMAP_THRESHOLD)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the pool, which stops us
    worker = Worker(index, IngestConfig(**config), conn)
    signal.signal(signal.SIGTERM, lambda *_: worker.stopping.set())
    code = 0
    try:
        worker.run()
    except (EOFError, BrokenPipeError, ConnectionResetError):
        pass  # the pool is gone: nothing to report to
    except Exception:
        log.exception("ingest worker %d failed", index)
        code = 1
    # Reader threads may sit in FFmpeg's blocking reads; give them a moment, then leave
    # without interpreter teardown racing those threads.
    deadline = time.monotonic() + STOP_GRACE_S
    for reader in worker.readers.values():
        thread = reader.stop()
        if thread is not None:
            thread.join(max(0.0, deadline - time.monotonic()))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
