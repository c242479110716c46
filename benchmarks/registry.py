"""``gridwatch bench registry``: a 200,000-camera city through the registry.

Generate, validate, locate and import N cameras; shard them over K nodes; report the time
of each step, the load balance (max/mean) and the fraction of cameras moved when one node
leaves and when one joins, side by side with the obvious alternative (hash modulo N).
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import Step, print_table, timed, write_json
from gridwatch.config import NodeSpec
from gridwatch.grid.model import GridIndex
from gridwatch.registry.csvfile import read_registry, write_registry
from gridwatch.registry.generate import generate_cameras
from gridwatch.registry.importer import import_registry
from gridwatch.secrets import mask_url
from gridwatch.sharding import assign, balance, calibrate, default_nodes, moved


def _modulo(ids: list[str], nodes: int) -> np.ndarray:
    digest = [
        int.from_bytes(hashlib.blake2b(c.encode(), digest_size=8).digest(), "little") for c in ids
    ]
    return np.array(digest, dtype=np.uint64) % np.uint64(nodes)


def _sharding(ids: list[str], node_count: int, steps: list[Step]) -> dict[str, Any]:
    nodes = default_nodes(node_count)
    with timed(steps, f"shard over {node_count} nodes (rendezvous)"):
        plain = assign(ids, nodes)
    with timed(steps, "calibrate node biases"):
        cal = calibrate(ids, nodes)
    before = assign(ids, cal)
    gone = cal[node_count // 2]
    left = [n for n in cal if n.id != gone.id]
    after_leave = assign(ids, left)
    leave_moved = moved(before, after_leave)
    own = np.array(before.node_ids)[before.node_index] == gone.id
    joined = [*cal, NodeSpec(id=f"node-{node_count:03d}")]
    join_moved = moved(before, assign(ids, joined))
    mod_before = _modulo(ids, node_count)
    mod_leave = _modulo(ids, node_count - 1)
    mod_join = _modulo(ids, node_count + 1)
    mod_counts = np.bincount(mod_before.astype(np.int64), minlength=node_count)
    return {
        "nodes": node_count,
        "rendezvous_plain_max_over_mean": balance(plain, nodes).max_over_mean,
        "rendezvous_calibrated_max_over_mean": balance(before, cal).max_over_mean,
        "rendezvous_calibrated_min_over_mean": balance(before, cal).min_over_mean,
        "after_leave_max_over_mean": balance(after_leave, left).max_over_mean,
        "leave_moved_fraction": float(leave_moved.mean()),
        "leave_moved_only_own": bool(np.array_equal(leave_moved, own)),
        "join_moved_fraction": float(join_moved.mean()),
        "modulo_max_over_mean": float(mod_counts.max() / mod_counts.mean()),
        "modulo_leave_moved_fraction": float((mod_before != mod_leave).mean()),
        "modulo_join_moved_fraction": float((mod_before != mod_join).mean()),
    }


def run(
    count: int, node_count: int, db_url: str | None, grid_file: Path, json_path: Path | None
) -> dict[str, Any]:
    steps: list[Step] = []
    with tempfile.TemporaryDirectory(prefix="gw-bench-") as tmp:
        work = Path(tmp)
        url = db_url or f"sqlite:///{work / 'registry.db'}"
        grid = GridIndex.load(grid_file)
        csv_path = work / "city.csv"
        with timed(steps, f"generate {count} cameras"):
            write_registry(generate_cameras(grid, count, seed=11), csv_path)
        with timed(steps, "validate (parse + check every row)") as d:
            result = read_registry(csv_path)
            d["errors"] = len(result.errors)
        with timed(steps, "locate in the grid (STRtree)"):
            lons = np.array([r.lon for r in result.records])
            lats = np.array([r.lat for r in result.records])
            codes = grid.locate_many(lons, lats)
        with timed(steps, "import (validate + locate + insert), empty DB") as d:
            report = import_registry(
                csv_path, url, default_grid=grid_file, echo=lambda _m: None, show_progress=False
            )
            d["inserted"] = report.inserted
        with timed(steps, "re-import, nothing changed") as d:
            again = import_registry(
                csv_path, url, default_grid=grid_file, echo=lambda _m: None, show_progress=False
            )
            d["unchanged"] = again.unchanged
        ids = [r.camera_id for r in result.records]
        sharding = _sharding(ids, node_count, steps)
    results = {
        "cameras": count,
        "database": mask_url(url) if db_url else "sqlite (temporary file)",
        "outside_grid": int(sum(c is None for c in codes)),
        "steps": [
            {"name": s.name, "seconds": s.seconds, "cpu_seconds": s.cpu_seconds, **s.detail}
            for s in steps
        ],
        "sharding": sharding,
    }
    print_table(
        f"registry: {count} cameras",
        ["step", "wall s", "cpu s", "cameras/s"],
        [
            [s.name, f"{s.seconds:.2f}", f"{s.cpu_seconds:.2f}", f"{count / s.seconds:,.0f}"]
            for s in steps
        ],
    )
    print_table(
        f"sharding over {node_count} nodes: rendezvous (calibrated) vs hash modulo N",
        ["figure", "rendezvous", "modulo N"],
        [
            [
                "fullest node / mean",
                f"{sharding['rendezvous_calibrated_max_over_mean']:.3f}"
                f" (plain {sharding['rendezvous_plain_max_over_mean']:.3f})",
                f"{sharding['modulo_max_over_mean']:.3f}",
            ],
            [
                "moved when a node leaves",
                f"{sharding['leave_moved_fraction']:.2%}"
                f" (only its own: {sharding['leave_moved_only_own']})",
                f"{sharding['modulo_leave_moved_fraction']:.2%}",
            ],
            [
                "moved when a node joins",
                f"{sharding['join_moved_fraction']:.2%}",
                f"{sharding['modulo_join_moved_fraction']:.2%}",
            ],
        ],
    )
    imported = next(s for s in steps if s.name.startswith("import "))
    headline = {
        "import_seconds": imported.seconds,
        "balance_max_over_mean": sharding["rendezvous_calibrated_max_over_mean"],
        "moved_fraction_on_leave": sharding["leave_moved_fraction"],
    }
    return write_json(json_path, "registry", results, summary=headline)
