"""What every benchmark shares: the machine it ran on, tables, JSON results."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def machine() -> dict[str, Any]:
    """CPU model, cores, memory and GPU (if any): printed with every result."""
    info: dict[str, Any] = {
        "hostname": platform.node(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_cores": os.cpu_count(),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        mem_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        info["memory_gib"] = round(mem_kb / 2**20, 1)
    except (OSError, StopIteration, ValueError):
        pass
    try:
        gpu = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        info["gpu"] = gpu or None
    except (OSError, subprocess.SubprocessError):
        info["gpu"] = None
    return info


@dataclass
class Step:
    name: str
    seconds: float
    cpu_seconds: float
    detail: dict[str, Any] = field(default_factory=dict)


@contextmanager
def timed(steps: list[Step], name: str, **detail: Any) -> Iterator[dict[str, Any]]:
    """Time a step (wall and CPU of this process) and append it to ``steps``."""
    wall = time.perf_counter()
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    extra: dict[str, Any] = dict(detail)
    yield extra
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = (after.ru_utime - cpu.ru_utime) + (after.ru_stime - cpu.ru_stime)
    steps.append(Step(name, time.perf_counter() - wall, cpu_s, extra))


def print_table(title: str, headers: list[str], rows: list[list[Any]]) -> None:
    cells = [[str(c) for c in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)
    ]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


def write_json(
    path: Path | None,
    name: str,
    results: dict[str, Any],
    *,
    summary: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The full result document; written when ``path``.

    Top level: ``benchmark``, the headline figures of ``summary`` (each benchmark's
    named keys, see benchmarks/README.md), ``finished_at``, ``machine``, ``results``.
    """
    doc = {
        "benchmark": name,
        **(summary or {}),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "results": results,
    }
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            json.dumps(doc, indent=1, ensure_ascii=False, default=str), encoding="utf-8"
        )
        print(f"\nresults written to {path}")
    return doc
