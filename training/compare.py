"""``gridwatch model compare A B --eval LABELS.json``: two models, the same footage.

Both models run the evaluation of ``gridwatch eval`` (edge_agent/evaluation: the same
replay, rules, zones and scoring) on the same labelled clips; the table shows, per rule,
each model's STARTs, hits, false events and premature ENDs and B's difference from A,
then recall, precision and false events per camera-hour. A fine-tuned model is worth
rolling out when it finds more with no more false events on the footage that matters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

FIGURES = ("starts", "hits", "false_events", "premature_ends")
TOTALS = ("recall", "precision", "false_per_camera_hour", "median_time_to_detect_s")


def evaluate(clips: Sequence[Any], options: Any, jobs: int, progress: Any) -> dict[str, Any]:
    """One model's figures on ``clips``: ``totals`` and ``per_rule``."""
    from edge_agent.evaluation.run import run_clips
    from edge_agent.evaluation.scoring import EventRecord, per_rule, score_clip, totals

    runs = run_clips(clips, options, jobs, progress)
    scores = [
        score_clip(clip, [EventRecord.of(e) for e in run.events], run.replayed_s)
        for clip, run in zip(clips, runs, strict=True)
    ]
    return {"totals": totals(scores), "per_rule": per_rule(scores)}


def difference(a: dict[str, Any], b: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Per rule (either model's), B's figures minus A's."""
    zero = dict.fromkeys(FIGURES, 0)
    rules = sorted(set(a["per_rule"]) | set(b["per_rule"]))
    return {
        rule: {
            k: b["per_rule"].get(rule, zero)[k] - a["per_rule"].get(rule, zero)[k] for k in FIGURES
        }
        for rule in rules
    }


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def table(name_a: str, a: dict[str, Any], name_b: str, b: dict[str, Any]) -> list[str]:
    """The comparison as text rows."""
    zero = dict.fromkeys(FIGURES, 0)
    diff = difference(a, b)
    head = "starts hits false prem"
    lines = [
        f"{'rule':<20} | {name_a[:22]:<22} | {name_b[:22]:<22} | {'B - A':<22}",
        f"{'':<20} | {head:<22} | {head:<22} | {head:<22}",
    ]

    def row(values: dict[str, int], signed: bool = False) -> str:
        cells = [f"{values[k]:+d}" if signed else str(values[k]) for k in FIGURES]
        return f"{cells[0]:>6} {cells[1]:>4} {cells[2]:>5} {cells[3]:>4}"

    for rule, d in diff.items():
        ra, rb = a["per_rule"].get(rule, zero), b["per_rule"].get(rule, zero)
        lines.append(f"{rule:<20} | {row(ra):<22} | {row(rb):<22} | {row(d, True):<22}")
    if not diff:
        lines.append("(no rule raised a START with either model)")
    lines.append("")
    for key in TOTALS:
        va, vb = a["totals"].get(key), b["totals"].get(key)
        delta = vb - va if isinstance(va, int | float) and isinstance(vb, int | float) else None
        lines.append(f"{key:<24} {_fmt(va):>8} {_fmt(vb):>8}  B - A {_fmt(delta)}")
    return lines
