"""Memory of an edge node, split into a fixed part and a part per camera.

Two views, reported side by side by ``gridwatch bench edge``:

* **what the kernel says**: each process's resident memory from ``/proc/<pid>/status``,
  private (``RssAnon + RssFile``) apart from shared memory (``RssShmem``: the frame slots,
  which the writer and the reader both map and would otherwise be counted twice), plus
  the slots' own resident bytes in ``/dev/shm``. Fitting the total over several K
  (least squares, :func:`fit`) gives the **fixed** part (intercept: model, interpreter,
  worker processes) and the **slope**: what one more camera costs.
* **what the code says it holds**, per camera: its slot (resident bytes of its segment),
  and its analyzer's parts (edge_agent/budget.py: clip ring, tracker, static-object
  backgrounds, rules, motion gate).

>>> fit([(8, 100.0), (16, 140.0), (32, 220.0)])
(60.0, 5.0)
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

MB = 1024 * 1024
SHM = Path("/dev/shm")


def proc_memory(pid: int | str) -> dict[str, float]:
    """``{"private_mb", "shmem_mb", "rss_mb"}`` of a process (zeros when it is gone)."""
    fields = {"VmRSS": 0.0, "RssAnon": 0.0, "RssFile": 0.0, "RssShmem": 0.0}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in fields:
                fields[key] = int(value.split()[0]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return {
        "rss_mb": fields["VmRSS"],
        "private_mb": fields["RssAnon"] + fields["RssFile"],
        "shmem_mb": fields["RssShmem"],
    }


class WorkerSampler:
    """The ingest workers' private memory sampled through a run: the lowest figure is
    what they hold (each trims its heap every second), the highest their peak."""

    def __init__(self) -> None:
        self.samples: list[float] = []

    def sample(self, pids: Iterable[int | None]) -> None:
        self.samples.append(sum(proc_memory(p)["private_mb"] for p in pids if p is not None))

    def held_and_peak(self) -> tuple[float, float]:
        return (min(self.samples), max(self.samples)) if self.samples else (0.0, 0.0)


def shm_resident_bytes(names: Iterable[str]) -> int:
    """Resident bytes of shared-memory segments (tmpfs backs only the pages written)."""
    total = 0
    for name in names:
        try:
            total += os.stat(SHM / name.lstrip("/")).st_blocks * 512
        except OSError:
            continue
    return total


def fit(points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """Least-squares line through ``(K, MB)`` points: ``(intercept, slope)``."""
    n = len(points)
    if n == 0:
        return 0.0, 0.0
    if n == 1:
        k, y = points[0]
        return 0.0, y / k if k else 0.0
    mean_k = sum(k for k, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((k - mean_k) ** 2 for k, _ in points)
    if var == 0:
        return mean_y, 0.0
    slope = sum((k - mean_k) * (y - mean_y) for k, y in points) / var
    return mean_y - slope * mean_k, slope


def memory_fit(steps: Sequence[dict[str, Any]], key: str = "memory_total_mb") -> dict[str, Any]:
    """The fixed part and the slope over the steps that ran (at least two K)."""
    points = [(float(s["cameras"]), float(s[key])) for s in steps if s.get("ok") and key in s]
    intercept, slope = fit(points)
    return {
        "points": points,
        "fixed_mb": intercept if len(points) > 1 else None,
        "per_camera_mb": slope if len(points) > 1 else None,
    }


def mean_parts(parts: Sequence[dict[str, int]]) -> dict[str, float]:
    """The mean bytes per part over cameras, in MB."""
    if not parts:
        return {}
    names = sorted({n for p in parts for n in p})
    return {n: sum(p.get(n, 0) for p in parts) / len(parts) / MB for n in names}


def memory_split(steps: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Fixed part and per-camera part of a series of steps (one size, several K).

    The slopes come from the kernel's figures (RSS fits); ``slot_mb`` and ``parts_mb``
    are what the code holds per camera (shared-memory slot, analyzer parts), measured
    at the largest K that ran.
    """
    ran = [s for s in steps if s.get("ok") and "memory_total_mb" in s]
    held = [s for s in ran if s.get("holds")]
    if len(held) >= 2:  # a step that fell behind holds frames and half-warm state: not steady
        ran = held
    if not ran:
        return {}
    total = memory_fit(ran)
    agent = memory_fit(ran, "memory_agent_private_mb")
    workers = memory_fit(ran, "memory_workers_private_mb")
    untrimmed = memory_fit(ran, "memory_agent_untrimmed_mb")
    peak = memory_fit(ran, "memory_workers_peak_mb")
    last = ran[-1]
    return {
        "cameras": [s["cameras"] for s in ran],
        "fixed_mb": total["fixed_mb"],
        "per_camera_mb": total["per_camera_mb"],
        "per_camera_agent_mb": agent["per_camera_mb"],
        "per_camera_workers_mb": workers["per_camera_mb"],
        "per_camera_agent_untrimmed_mb": untrimmed["per_camera_mb"],
        "per_camera_workers_peak_mb": peak["per_camera_mb"],
        "slot_mb": last.get("slot_mb_per_camera"),
        "parts_mb": last.get("analyzer_parts_mb", {}),
        "total_mb_at_largest_k": last["memory_total_mb"],
        "points": total["points"],
    }


def split_row(label: str, split: dict[str, Any]) -> list[str]:
    """One row of the memory-split table (see :data:`SPLIT_HEADERS`)."""

    def f(value: Any, fmt: str = ".2f") -> str:
        return "-" if value is None else format(value, fmt)

    parts = split.get("parts_mb", {})
    return [
        label,
        ",".join(str(k) for k in split.get("cameras", [])),
        f(split.get("fixed_mb"), ".0f"),
        f(split.get("per_camera_mb")),
        f(split.get("per_camera_workers_mb")),
        f(split.get("per_camera_agent_mb")),
        f(split.get("slot_mb")),
        f(parts.get("clip_ring")),
        f(parts.get("static")),
        f(parts.get("tracker"), ".3f"),
        f(parts.get("rules"), ".3f"),
    ]


SPLIT_HEADERS = [
    "series",
    "K",
    "fixed MB",
    "MB/camera (fit)",
    "of which workers",
    "agent",
    "slot (shm)",
    "clip ring",
    "static bg",
    "tracker",
    "rules",
]
