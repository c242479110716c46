"""What a camera's parts hold (deep_nbytes) and the allocator hygiene of agent and workers."""

from __future__ import annotations

import platform
import subprocess
import sys
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import pytest

from edge_agent.budget import HeapTrim, deep_nbytes


@dataclass
class _Holder:
    frames: deque[np.ndarray] = field(default_factory=deque)

    def __post_init__(self) -> None:
        self.extra = {"a": np.zeros(10_000, np.uint8)}


def test_deep_nbytes_counts_arrays_once_and_views_as_headers() -> None:
    big = np.zeros((540, 960, 3), np.uint8)
    holder = _Holder(deque([big, big, big[:10]]))
    size = deep_nbytes(holder)
    assert big.nbytes + 10_000 <= size < big.nbytes + 10_000 + 5_000  # once, views ~free
    assert deep_nbytes(holder, {id(holder.frames)}) < 20_000  # a shared part left out


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")
def test_the_allocator_is_tuned_and_trimmed_and_trims_are_paced() -> None:
    # in a child: the test process's own allocator stays as it is
    code = (
        "from edge_agent.budget import trim_heap, tune_allocator; "
        "assert tune_allocator(mmap_threshold=256 * 1024) and trim_heap()"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    calls = []
    trim = HeapTrim(every_s=3600)
    import edge_agent.budget as budget

    original = budget.trim_heap
    budget.trim_heap = lambda: calls.append(1) or True  # type: ignore[assignment]
    try:
        for _ in range(5):
            trim.maybe()
    finally:
        budget.trim_heap = original
    assert calls == [1]
