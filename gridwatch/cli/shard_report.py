"""The report behind ``gridwatch cameras shard``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import yaml
from sqlalchemy import select

from gridwatch.config import NodeSpec, Settings
from gridwatch.db import CameraRow, open_db, session_scope
from gridwatch.sharding import assign, balance, calibrate, default_nodes


def shard_report(
    settings: Settings,
    url: str,
    node_count: int | None,
    do_calibrate: bool,
    write_to: Path | None,
    as_json: bool,
) -> None:
    nodes: list[NodeSpec] = (
        default_nodes(node_count) if node_count else list(settings.sharding.nodes)
    )
    if not nodes:
        raise click.ClickException(
            "no nodes configured: pass --nodes N, or list them in sharding.nodes / nodes_file"
        )
    engine = open_db(url)
    with session_scope(engine) as session:
        ids = list(
            session.scalars(
                select(CameraRow.camera_id)
                .where(CameraRow.enabled.is_(True))
                .order_by(CameraRow.camera_id)
            )
        )
    if not ids:
        raise click.ClickException("no enabled cameras in the registry: import some first")
    if do_calibrate:
        try:
            nodes = calibrate(ids, nodes)
        except RuntimeError as exc:
            raise click.ClickException(str(exc)) from None
    if write_to is not None:
        if not do_calibrate:
            raise click.ClickException("--write needs --calibrate")
        write_to.parent.mkdir(parents=True, exist_ok=True)
        write_to.write_text(
            yaml.safe_dump({"nodes": [n.model_dump() for n in nodes]}, sort_keys=False),
            encoding="utf-8",
        )
    assignment = assign(ids, nodes)
    bal = balance(assignment, nodes)
    per_node: list[dict[str, Any]] = [
        {
            "node": n.id,
            "capacity": n.capacity,
            "bias": n.bias,
            "cameras": int(c),
            "fair_share": float(t),
        }
        for n, c, t in zip(nodes, bal.counts, bal.targets, strict=True)
    ]
    summary = {
        "cameras": len(ids),
        "nodes": len(nodes),
        "max_over_fair_share": bal.max_over_mean,
        "min_over_fair_share": bal.min_over_mean,
        "calibrated": do_calibrate,
        "per_node": per_node,
    }
    if as_json:
        click.echo(json.dumps(summary, indent=1))
        return
    from gridwatch.cli.common import print_table

    print_table(
        [
            [
                p["node"],
                f"{p['capacity']:g}",
                f"{p['bias']:.4f}",
                str(p["cameras"]),
                f"{p['cameras'] / p['fair_share']:.3f}",
            ]
            for p in per_node
        ],
        ["node", "capacity", "bias", "cameras", "load/fair"],
    )
    click.echo(
        f"{len(ids)} enabled cameras over {len(nodes)} nodes: "
        f"fullest node {bal.max_over_mean:.3f}x, "
        f"emptiest {bal.min_over_mean:.3f}x of its fair share"
        + (f"; calibrated node list written to {write_to}" if write_to else "")
    )
