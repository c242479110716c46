"""Scoring a clip's events against its labels, exactly as ``shared/FOOTAGE.md`` says.

- A **hit**: a START whose code belongs to the clip's category, at or after the
  incident's ``t_start_s``, with at least one box that intersects its
  ``approx_box_normalized``. Each incident is hit at most once.
- A **false event**: any other START (wrong code, wrong place, any START on a negative),
  and any further START for an incident already hit (a **duplicate**).
- A **premature END**: an END of a hit incident while the object is still there (before
  ``t_removed_s``, or at all when it is null).
- **Time to detect**: the hit's ``t_event_s`` minus ``t_owner_leaves_s`` (or
  ``t_start_s`` when there is no carrier).

Also kept, for the removal target: ``end_delay_s``, how long after ``t_removed_s`` the
hit incident's END came (None: no END after the removal).

Pure functions of labels and events, so they are tested on tables of known answers.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from edge_agent.evaluation.labels import CATEGORY_CODES, Category, Clip, Incident

Box = tuple[float, float, float, float]


class Verdict(StrEnum):
    """What the scorer made of one event."""

    HIT = "hit"
    FALSE = "false"  # wrong code, wrong place or time, or on a negative
    DUPLICATE = "duplicate"  # a further START for an incident already hit (also false)
    PREMATURE_END = "premature_end"
    END = "end"  # an END that is not premature (after removal, or of a false START)


@dataclass(frozen=True)
class EventRecord:
    """The fields of one event the scorer needs (from ``Event.summary()``)."""

    phase: str
    event_code: str
    rule_id: str
    incident_id: str
    t_event_s: float
    boxes: tuple[Box, ...]
    summary: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def of(cls, summary: Mapping[str, Any]) -> EventRecord:
        """From the JSON object ``edge replay --json`` prints for an event."""
        boxes = tuple(
            (float(b["xyxy"][0]), float(b["xyxy"][1]), float(b["xyxy"][2]), float(b["xyxy"][3]))
            for b in summary.get("boxes", [])
        )
        return cls(
            phase=str(summary["phase"]),
            event_code=str(summary["event_code"]),
            rule_id=str(summary["rule_id"]),
            incident_id=str(summary["incident_id"]),
            t_event_s=float(summary["t_event_s"]),
            boxes=boxes,
            summary=summary,
        )


@dataclass
class IncidentScore:
    """How one labelled incident fared."""

    index: int
    incident: Incident
    hit_by: EventRecord | None = None
    time_to_detect_s: float | None = None
    premature_ends: int = 0
    end_delay_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        inc = self.incident
        return {
            "index": self.index,
            "object": inc.object,
            "t_start_s": inc.t_start_s,
            "t_owner_leaves_s": inc.t_owner_leaves_s,
            "t_removed_s": inc.t_removed_s,
            "hit": self.hit_by is not None,
            "hit_event_id": self.hit_by.summary.get("event_id") if self.hit_by else None,
            "hit_rule": self.hit_by.rule_id if self.hit_by else None,
            "t_detected_s": self.hit_by.t_event_s if self.hit_by else None,
            "time_to_detect_s": _round(self.time_to_detect_s),
            "premature_ends": self.premature_ends,
            "end_delay_s": _round(self.end_delay_s),
        }


@dataclass
class ClipScore:
    """The score of one clip: per incident, per event, and the counts."""

    clip: Clip
    replayed_s: float
    incidents: list[IncidentScore]
    verdicts: list[tuple[EventRecord, Verdict]]

    def count(self, *verdicts: Verdict) -> int:
        return sum(1 for _, v in self.verdicts if v in verdicts)

    @property
    def starts(self) -> int:
        return sum(1 for ev, _ in self.verdicts if ev.phase == "start")

    @property
    def hits(self) -> int:
        return self.count(Verdict.HIT)

    @property
    def false_events(self) -> int:
        return self.count(Verdict.FALSE, Verdict.DUPLICATE)

    @property
    def premature_ends(self) -> int:
        return self.count(Verdict.PREMATURE_END)

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.clip.file,
            "replayed_file": str(self.clip.eval_file or self.clip.file),
            "category": self.clip.category.value,
            "replayed_s": round(self.replayed_s, 1),
            "incidents": len(self.incidents),
            "hits": self.hits,
            "starts": self.starts,
            "false_events": self.false_events,
            "duplicates": self.count(Verdict.DUPLICATE),
            "premature_ends": self.premature_ends,
            "incident_scores": [s.to_dict() for s in self.incidents],
            "events": [{**ev.summary, "verdict": v.value} for ev, v in self.verdicts],
        }


def intersects(a: Box, b: Box) -> bool:
    """Whether two normalized xyxy boxes share some area."""
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


def _overlap(a: Box, b: Box) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return max(0.0, w) * max(0.0, h)


def score_clip(clip: Clip, events: Iterable[EventRecord], replayed_s: float) -> ClipScore:
    """Score one clip's events (in any order) against its labelled incidents."""
    ordered = sorted(events, key=lambda e: (e.t_event_s, e.phase != "start"))
    incidents = [IncidentScore(i, inc) for i, inc in enumerate(clip.incidents)]
    codes = CATEGORY_CODES[clip.category]
    by_incident_id: dict[str, IncidentScore] = {}
    verdicts: list[tuple[EventRecord, Verdict]] = []
    for ev in ordered:
        if ev.phase == "start":
            verdict, target = _judge_start(ev, incidents, codes)
            if target is not None and verdict is Verdict.HIT:
                target.hit_by = ev
                target.time_to_detect_s = ev.t_event_s - target.incident.t_reference_s
                by_incident_id[ev.incident_id] = target
        else:
            verdict = _judge_end(ev, by_incident_id.get(ev.incident_id))
        verdicts.append((ev, verdict))
    return ClipScore(clip, replayed_s, incidents, verdicts)


def _judge_start(
    ev: EventRecord, incidents: Sequence[IncidentScore], codes: frozenset[str]
) -> tuple[Verdict, IncidentScore | None]:
    if ev.event_code not in codes:
        return Verdict.FALSE, None
    matching = [
        s
        for s in incidents
        if ev.t_event_s >= s.incident.t_start_s
        and any(intersects(box, s.incident.approx_box_normalized) for box in ev.boxes)
    ]
    if not matching:
        return Verdict.FALSE, None
    fresh = [s for s in matching if s.hit_by is None]
    if not fresh:
        return Verdict.DUPLICATE, matching[0]
    best = max(
        fresh,
        key=lambda s: max(_overlap(b, s.incident.approx_box_normalized) for b in ev.boxes),
    )
    return Verdict.HIT, best


def _judge_end(ev: EventRecord, target: IncidentScore | None) -> Verdict:
    if target is None:
        return Verdict.END
    removed = target.incident.t_removed_s
    if removed is None or ev.t_event_s < removed:
        target.premature_ends += 1
        return Verdict.PREMATURE_END
    if target.end_delay_s is None:
        target.end_delay_s = ev.t_event_s - removed
    return Verdict.END


# -- summaries ----------------------------------------------------------------------------


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _ratio(num: int, den: int | float) -> float | None:
    return None if not den else round(num / den, 3)


def totals(scores: Sequence[ClipScore]) -> dict[str, Any]:
    """The top-level figures of an evaluation (the keys ``gridwatch eval --json`` promises)."""
    incidents = sum(len(s.incidents) for s in scores)
    hits = sum(s.hits for s in scores)
    starts = sum(s.starts for s in scores)
    negatives = [s for s in scores if s.clip.category is Category.NEGATIVE]
    negative_hours = sum(s.replayed_s for s in negatives) / 3600
    false_on_negatives = sum(s.false_events for s in negatives)
    ttd = [
        i.time_to_detect_s for s in scores for i in s.incidents if i.time_to_detect_s is not None
    ]
    removed = [i for s in scores for i in s.incidents if i.hit_by and i.incident.t_removed_s]
    delays = [i.end_delay_s for i in removed if i.end_delay_s is not None]
    return {
        "clips": len(scores),
        "incidents": incidents,
        "hits": hits,
        "recall": _ratio(hits, incidents),
        "starts": starts,
        "false_events": sum(s.false_events for s in scores),
        "duplicates": sum(s.count(Verdict.DUPLICATE) for s in scores),
        "precision": _ratio(hits, starts),
        "premature_ends": sum(s.premature_ends for s in scores),
        "negative_hours": round(negative_hours, 4),
        "false_on_negatives": false_on_negatives,
        "false_per_camera_hour": (
            round(false_on_negatives / negative_hours, 2) if negative_hours else None
        ),
        "median_time_to_detect_s": _round(statistics.median(ttd)) if ttd else None,
        "max_time_to_detect_s": _round(max(ttd)) if ttd else None,
        "removals_hit": len(removed),
        "removals_ended": len(delays),
        "max_end_delay_s": _round(max(delays)) if delays else None,
    }


def per_category(scores: Sequence[ClipScore]) -> dict[str, dict[str, Any]]:
    """:func:`totals` for the clips of each category present."""
    out = {}
    for category in Category:
        mine = [s for s in scores if s.clip.category is category]
        if mine:
            out[category.value] = totals(mine)
    return out


def per_rule(scores: Sequence[ClipScore]) -> dict[str, dict[str, int]]:
    """Per rule id: its STARTs, hits, false events (duplicates among them), premature ENDs."""
    out: dict[str, dict[str, int]] = {}
    for score in scores:
        for ev, verdict in score.verdicts:
            row = out.setdefault(
                ev.rule_id,
                {"starts": 0, "hits": 0, "false_events": 0, "duplicates": 0, "premature_ends": 0},
            )
            row["starts"] += ev.phase == "start"
            row["hits"] += verdict is Verdict.HIT
            row["false_events"] += verdict in (Verdict.FALSE, Verdict.DUPLICATE)
            row["duplicates"] += verdict is Verdict.DUPLICATE
            row["premature_ends"] += verdict is Verdict.PREMATURE_END
    return dict(sorted(out.items()))
