"""What ``gridwatch eval`` prints and writes: tables, the JSON document, evidence files.

The JSON document has, at its top level, the figures other tools read (``clips``,
``incidents``, ``hits``, ``recall``, ``starts``, ``false_events``, ``precision``,
``premature_ends``, ``negative_hours``, ``false_per_camera_hour``,
``median_time_to_detect_s``) and ``per_clip`` (each with ``file``, ``category``,
``hits``, ``false_events``, ``premature_ends`` and every ``events`` entry with the
scorer's verdict), plus ``per_category``, ``per_rule`` and the run's ``settings``.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edge_agent.evaluation.run import ClipRun, EvalOptions
from edge_agent.evaluation.scoring import ClipScore, Verdict, per_category, per_rule, totals


def document(
    scores: Sequence[ClipScore], runs: Sequence[ClipRun], options: EvalOptions, wall_s: float
) -> dict[str, Any]:
    """The whole result: totals at the top, then per category, rule and clip."""
    per_clip = []
    for score, run in zip(scores, runs, strict=True):
        row = score.to_dict()
        row.update(
            samples=run.samples,
            detector_runs=run.detector_runs,
            detect_ms=round(run.detect_s / max(1, run.detector_runs) * 1000, 1),
            wall_s=round(run.wall_s, 1),
        )
        per_clip.append(row)
    return {
        **totals(scores),
        "per_category": per_category(scores),
        "per_rule": per_rule(scores),
        "per_clip": per_clip,
        "settings": settings(options, wall_s),
    }


def settings(options: EvalOptions, wall_s: float) -> dict[str, Any]:
    """When, on what and with what the evaluation ran."""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _commit(),
        "machine": _machine(),
        "python": platform.python_version(),
        "zones_mode": options.zones_mode.value,
        "rules_file": str(options.rules_file or "configs/rules.yaml"),
        "model": options.model or "catalogue default",
        "imgsz": options.imgsz,
        "interval_s": options.interval,
        "wall_s": round(wall_s, 1),
    }


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPUs, {platform.system()}"


def _commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    dirty = subprocess.run(["git", "diff", "--quiet", "HEAD"], capture_output=True, timeout=5)
    return out.stdout.strip() + ("+changes" if dirty.returncode else "")


def write_json(path: Path, doc: dict[str, Any]) -> None:
    """Write ``doc`` whole or not at all (a temporary file renamed into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False
    ) as tmp:
        json.dump(doc, tmp, indent=2, ensure_ascii=False)
        tmp.write("\n")
    Path(tmp.name).replace(path)


# -- tables -------------------------------------------------------------------------------


def _fmt(value: Any, spec: str = "") -> str:
    if value is None:
        return "-"
    return format(value, spec) if spec else str(value)


def clip_table(scores: Sequence[ClipScore]) -> list[str]:
    """One line per clip."""
    head = (
        f"{'clip':<30} {'category':<9} {'inc':>3} {'hit':>3} {'start':>5} {'false':>5} "
        f"{'dup':>3} {'p.end':>5} {'ttd_s':>6} {'min':>5}"
    )
    lines = [head, "-" * len(head)]
    for s in scores:
        ttd = [i.time_to_detect_s for i in s.incidents if i.time_to_detect_s is not None]
        lines.append(
            f"{s.clip.name[:30]:<30} {s.clip.category.value:<9} {len(s.incidents):>3} "
            f"{s.hits:>3} {s.starts:>5} {s.false_events:>5} {s.count(Verdict.DUPLICATE):>3} "
            f"{s.premature_ends:>5} {_fmt(max(ttd) if ttd else None, '.1f'):>6} "
            f"{s.replayed_s / 60:>5.1f}"
        )
    return lines


def summary_table(doc: dict[str, Any]) -> list[str]:
    """Per category, then all clips, then per rule."""
    head = (
        f"{'category':<10} {'clips':>5} {'inc':>4} {'hits':>4} {'recall':>6} {'starts':>6} "
        f"{'false':>5} {'prec':>5} {'p.end':>5} {'neg_h':>6} {'false/h':>7} {'ttd_med':>7}"
    )
    lines = [head, "-" * len(head)]
    rows = [*doc["per_category"].items(), ("ALL", doc)]
    for name, t in rows:
        lines.append(
            f"{name:<10} {t['clips']:>5} {t['incidents']:>4} {t['hits']:>4} "
            f"{_fmt(t['recall'], '.2f'):>6} {t['starts']:>6} {t['false_events']:>5} "
            f"{_fmt(t['precision'], '.2f'):>5} {t['premature_ends']:>5} "
            f"{t['negative_hours']:>6.3f} {_fmt(t['false_per_camera_hour'], '.1f'):>7} "
            f"{_fmt(t['median_time_to_detect_s'], '.1f'):>7}"
        )
    lines.append("")
    rule_head = f"{'rule':<20} {'starts':>6} {'hits':>4} {'false':>5} {'dup':>4} {'p.end':>5}"
    lines += [rule_head, "-" * len(rule_head)]
    for rule, r in doc["per_rule"].items():
        lines.append(
            f"{rule:<20} {r['starts']:>6} {r['hits']:>4} {r['false_events']:>5} "
            f"{r['duplicates']:>4} {r['premature_ends']:>5}"
        )
    if not doc["per_rule"]:
        lines.append("(no events)")
    return lines


# -- evidence -----------------------------------------------------------------------------


def write_evidence(
    folder: Path, scores: Sequence[ClipScore], runs: Sequence[ClipRun], max_side: int
) -> int:
    """Write a picture of every false event, premature END and miss; returns how many.

    False events and premature ENDs: the pipeline's own annotated JPEG. Misses: the
    frame a little after the incident should have fired, with the labelled box (green)
    and everything the tracker was given at that sample (red), so an engineer can see
    whether the object was found at all. ``index.json`` lists each file with its reason.
    """
    import cv2

    index: list[dict[str, Any]] = []
    for score, run in zip(scores, runs, strict=True):
        clip_dir = folder / Path(score.clip.file).stem
        for n, (ev, verdict) in enumerate(score.verdicts):
            if verdict not in (Verdict.FALSE, Verdict.DUPLICATE, Verdict.PREMATURE_END):
                continue
            jpeg = run.jpegs.get(str(ev.summary.get("event_id")))
            if jpeg is None:
                continue
            name = f"{verdict.value}-{n:02d}-{ev.event_code}-{ev.t_event_s:07.1f}s.jpg"
            clip_dir.mkdir(parents=True, exist_ok=True)
            (clip_dir / name).write_bytes(jpeg)
            index.append(
                {
                    "clip": score.clip.file,
                    "file": f"{clip_dir.name}/{name}",
                    "reason": verdict.value,
                    "event": dict(ev.summary),
                }
            )
        for inc in score.incidents:
            if inc.hit_by is not None:
                continue
            t = min(run.replayed_s - 1.0, inc.incident.t_reference_s + 20.0)
            image = _miss_picture(score, run, inc.incident.approx_box_normalized, t, max_side)
            if image is None:
                continue
            name = f"miss-{inc.index:02d}-{t:07.1f}s.jpg"
            clip_dir.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(clip_dir / name), image)
            index.append(
                {
                    "clip": score.clip.file,
                    "file": f"{clip_dir.name}/{name}",
                    "reason": "miss",
                    "incident": inc.to_dict(),
                }
            )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "index.json").write_text(json.dumps(index, indent=2, ensure_ascii=False) + "\n")
    return len(index)


def _miss_picture(
    score: ClipScore,
    run: ClipRun,
    label_box: tuple[float, float, float, float],
    t: float,
    max_side: int,
) -> Any:
    import cv2

    from edge_agent.replay import frame_at

    image = frame_at(score.clip.path, t, max_side)
    if image is None:
        return None
    h, w = image.shape[:2]
    seen = min(run.trace, key=lambda s: abs(s[0] - t))[1] if run.trace else []
    for word, conf, (x1, y1, x2, y2) in seen:
        cv2.rectangle(image, (int(x1 * w), int(y1 * h)), (int(x2 * w), int(y2 * h)), (0, 0, 255), 1)
        cv2.putText(
            image,
            f"{word} {conf:.2f}",
            (int(x1 * w), max(10, int(y1 * h) - 3)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4,
            (0, 0, 255),
            1,
            cv2.LINE_AA,
        )
    x1, y1, x2, y2 = label_box
    cv2.rectangle(image, (int(x1 * w), int(y1 * h)), (int(x2 * w), int(y2 * h)), (0, 200, 0), 2)
    cv2.putText(
        image,
        f"MISSED at {t:.1f}s",
        (8, 18),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.55,
        (0, 200, 0),
        1,
        cv2.LINE_AA,
    )
    return image
