"""What one camera costs a node in memory, piece by piece.

A GPU node is meant to carry about 2,000 cameras, so every byte a camera holds counts
2,000 times. This module measures the parts a camera holds in the agent process (its
analyzer: clip ring, static-object backgrounds, tracker, rules, motion gate) and adds the
part held for it in shared memory (its frame slot). ``gridwatch bench edge`` reports
these next to the RSS slope it measures over several K (benchmarks/edge_memory.py), so a
reader sees both what the code says it holds and what the kernel says it uses.

>>> deep_nbytes({"a": np.zeros(1000, np.uint8)}) > 1000
True
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from typing import Any

import numpy as np

MB = 1024 * 1024
# Objects shared by every camera (configs, rule specs) are not the camera's cost.
_SHARED_TYPES = (str, bytes, int, float, bool, type(None))


def deep_nbytes(obj: Any, _seen: set[int] | None = None) -> int:
    """Bytes held by ``obj`` and what it refers to: numpy arrays by ``nbytes``, Python
    objects by ``sys.getsizeof``, containers, dataclasses and ``__dict__``s walked once.

    An estimate of the same kind as ``pympler.asizeof``: good to within tens of percent
    for the small Python parts, exact for the arrays, which dominate.
    """
    seen = _seen if _seen is not None else set()
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        return obj.nbytes if obj.base is None else sys.getsizeof(obj)  # a view: its header
    size = sys.getsizeof(obj)
    if isinstance(obj, _SHARED_TYPES):
        return size
    # Copies of the containers: a benchmark may measure while the agent's thread runs.
    if isinstance(obj, Mapping):
        items = list(obj.items())
        return size + sum(deep_nbytes(k, seen) + deep_nbytes(v, seen) for k, v in items)
    if isinstance(obj, list | tuple | set | frozenset | deque):
        return size + sum(deep_nbytes(v, seen) for v in list(obj))
    attrs = getattr(obj, "__dict__", None)
    if attrs is not None and not isinstance(obj, type):
        return size + deep_nbytes(attrs, seen)
    if is_dataclass(obj) and not isinstance(obj, type):  # slots: no __dict__
        return size + sum(deep_nbytes(getattr(obj, f.name, None), seen) for f in fields(obj))
    return size


def analyzer_parts(analyzer: Any) -> dict[str, int]:
    """Bytes per part of one :class:`~edge_agent.analyzer.CameraAnalyzer`.

    ``static``: both backgrounds, the current copy, the static ages and the objects;
    ``rules``: the open incidents with their "before" pictures and object crops;
    ``clip_ring``: the JPEGs waiting for a clip. One walk with one ``seen`` set, so
    nothing is counted twice, and the configs every camera shares are left out.
    """
    seen = {id(analyzer.tracker_config), id(analyzer.static), id(analyzer.motion)}
    seen |= {id(analyzer.evidence), id(analyzer.statics.config)}
    seen |= {id(r) for r in analyzer.rules} | {id(z) for z in analyzer.zones}
    return {
        "clip_ring": analyzer.clip_ring.nbytes(),
        "tracker": deep_nbytes(analyzer.tracker, seen),
        "static": deep_nbytes(analyzer.statics, seen) if analyzer.static.enabled else 0,
        "rules": deep_nbytes(analyzer._rules, seen) + deep_nbytes(analyzer._object_crops, seen),
        "motion": deep_nbytes(analyzer.gate._last, seen),
    }


# -- the C allocator ------------------------------------------------------------------
# glibc's malloc keeps freed memory for reuse: big buffers (decoded frames, frame copies,
# numpy temporaries of the backgrounds) come from its heaps once its mmap threshold has
# grown past them, and what is freed in the middle of a heap stays resident. With many
# reader threads it also makes an arena per thread (up to 8 per core), each with its own
# leftovers. Measured with ``bench edge --ingest-only`` at 360p over K = 8..32: without
# this, workers grew 3.4 MB and the agent 4.7 MB per camera (its parts hold 2.5 MB);
# with two arenas and a trim every few seconds, see the README's figures.
ARENA_MAX = 2
# Ingest workers: decoded frames (3 MB at 1080p) straight from and back to the system, so
# a worker's memory between two trims is not a second of freed frame pools (measured,
# 16 cameras at 1080p: 6.5 → 3.5 MB a camera before a trim, 1.0 after either way; the
# CPU per camera within noise, +1-3 %).
WORKER_MMAP_THRESHOLD = 256 * 1024
_M_MMAP_THRESHOLD = -3
TRIM_EVERY_S = 5.0  # the agent's loop trims this often (a worker every second)
_M_ARENA_MAX = -8  # mallopt parameter numbers of glibc's malloc.h
_libc: Any = None


def _glibc() -> Any:
    global _libc
    if _libc is None:
        import ctypes
        import ctypes.util

        name = ctypes.util.find_library("c")
        try:
            lib = ctypes.CDLL(name) if name else None
            _libc = lib if lib is not None and hasattr(lib, "malloc_trim") else False
        except OSError:
            _libc = False
    return _libc or None


def tune_allocator(arena_max: int = ARENA_MAX, mmap_threshold: int | None = None) -> bool:
    """Cap glibc's malloc arenas for this process (call early) and, if given, fix its
    mmap threshold (blocks that large are mapped and unmapped, never kept in a heap);
    False where the C library is not glibc."""
    libc = _glibc()
    if libc is None:
        return False
    ok = bool(libc.mallopt(_M_ARENA_MAX, arena_max))
    if mmap_threshold is not None:
        ok = bool(libc.mallopt(_M_MMAP_THRESHOLD, mmap_threshold)) and ok
    return ok


def trim_heap() -> bool:
    """Give memory freed inside the heaps back to the system (glibc ``malloc_trim``)."""
    libc = _glibc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


class HeapTrim:
    """:func:`trim_heap` at most every ``every_s`` seconds (call :meth:`maybe` often)."""

    def __init__(self, every_s: float = TRIM_EVERY_S) -> None:
        self.every_s = every_s
        self._next = 0.0

    def maybe(self) -> None:
        import time

        now = time.monotonic()
        if now >= self._next:
            self._next = now + self.every_s
            trim_heap()
