"""Incidents: one START per object or stall, and an END only when its place is clear.

A rule kind turns what a camera sees into candidates (:mod:`edge_agent.rules.kinds`);
an :class:`IncidentBook` turns candidates into START and END transitions:

- a candidate that has held ``dwell_s`` (the zone's own dwell where it sets one) opens
  an incident (START), unless one is open at that place: fragments of one object and
  re-detections after an occlusion join the open incident;
- when it opens, the incident keeps a :class:`~edge_agent.static.place.PlaceCheck`, the
  place before the object came and with it;
- it ENDs when its place has looked as it did before for ``end_after_s`` (a passer-by
  in front of it meanwhile neither confirms nor undoes that; seeing the object again
  does) and looks so now, and nothing of it has been seen meanwhile. Where the place
  cannot be checked (no background model, or an object that did not stand out from its
  background) it ENDs after ``end_after_s`` without its candidate. A blob fading into
  the background never ends an incident: the long-term background does not learn an
  object while it stays.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from edge_agent.detections import box_coverage, box_iou
from edge_agent.rules.config import RuleSpec
from edge_agent.tracking import Box
from gridwatch.protocol import EventPhase

if TYPE_CHECKING:
    from edge_agent.rules.kinds import Candidate
    from edge_agent.static.background import DualBackground
    from edge_agent.static.place import PlaceCheck

JOIN_GAP = 0.25  # a candidate this close to an open incident (× its diagonal) joins it


@dataclass
class Incident:
    """One open incident of one rule."""

    incident_id: str
    key: str
    zone_id: str | None
    t_start: float
    t_fired: float
    box: Box
    last_present: float
    candidate: Candidate
    place: PlaceCheck | None = None
    restored_since: float | None = None


@dataclass(frozen=True)
class Transition:
    phase: EventPhase
    incident: Incident


@dataclass
class IncidentBook:
    """A rule's incidents on one camera: one START per incident, END when it is over.

    A new START at a place (same key, or a box near the last one) is also suppressed
    for ``cooldown_s`` after the previous START there while that incident is open.
    """

    rule: RuleSpec
    open: list[Incident] = field(default_factory=list)

    def step(
        self, t: float, candidates: Sequence[Candidate], background: DualBackground | None = None
    ) -> list[Transition]:
        """Candidates seen at ``t``; ``background`` (when ready) checks places."""
        out: list[Transition] = []
        for cand in candidates:
            incident = self._match(cand)
            if incident is not None:
                incident.last_present = t
                incident.key = cand.key
                incident.candidate = cand
            elif self._ready(t, cand) and self._armed(t, cand):
                incident = Incident(
                    uuid.uuid4().hex, cand.key, cand.zone_id, cand.t_first, t, cand.box(), t, cand
                )
                incident.place = _capture(background, incident.box)
                self.open.append(incident)
                out.append(Transition(EventPhase.START, incident))
        for incident in list(self.open):
            if self._over(t, incident, background):
                self.open.remove(incident)
                out.append(Transition(EventPhase.END, incident))
        return out

    def boxes(self) -> list[Box]:
        """The places of the open incidents (never learnt into the background)."""
        return [inc.box for inc in self.open]

    def _over(self, t: float, incident: Incident, background: DualBackground | None) -> bool:
        from edge_agent.static.place import PlaceState

        gone_for = t - incident.last_present
        place = incident.place
        if place is None or background is None or not place.usable:
            return gone_for >= self.rule.end_after_s
        state = place.state(background)
        if state is PlaceState.RESTORED and incident.restored_since is None:
            incident.restored_since = t
        elif state is PlaceState.PRESENT:
            incident.restored_since = None
        # CHANGED (a passer-by in front of the place) neither confirms nor undoes it.
        if state is not PlaceState.RESTORED or incident.restored_since is None:
            return False
        restored_for = t - incident.restored_since
        return gone_for >= self.rule.end_after_s and restored_for >= self.rule.end_after_s

    def _ready(self, t: float, cand: Candidate) -> bool:
        dwell = cand.dwell_s if cand.dwell_s is not None else self.rule.dwell_s
        return cand.since is not None and t - cand.since >= dwell

    def _armed(self, t: float, cand: Candidate) -> bool:
        box = cand.box()
        for inc in self.open:
            if inc.zone_id != cand.zone_id or t - inc.t_fired >= self.rule.cooldown_s:
                continue
            diag = float(np.hypot(inc.box[2] - inc.box[0], inc.box[3] - inc.box[1]))
            dist = float(
                np.hypot(
                    (box[0] + box[2] - inc.box[0] - inc.box[2]) / 2,
                    (box[1] + box[3] - inc.box[1] - inc.box[3]) / 2,
                )
            )
            if cand.key.startswith("zone:") or dist < diag:
                return False
        return True

    def _match(self, cand: Candidate) -> Incident | None:
        for incident in self.open:
            if incident.key == cand.key:
                return incident
        box = cand.box()
        arr = np.array([box], np.float32)
        for incident in self.open:
            if incident.zone_id != cand.zone_id:
                continue
            inc = np.array([incident.box], np.float32)
            if box_iou(arr, inc)[0, 0] > 0.3 or box_coverage(arr, inc)[0, 0] >= 0.5:
                return incident
            if _gap(box, incident.box) <= JOIN_GAP * _diag(incident.box):
                return incident  # a fragment beside it, or the same object a little moved
        return None


def _capture(background: DualBackground | None, box: Box) -> PlaceCheck | None:
    if background is None or not background.ready:
        return None
    from edge_agent.static.place import PlaceCheck

    return PlaceCheck.capture(background, box)


def _diag(box: Box) -> float:
    return float(np.hypot(box[2] - box[0], box[3] - box[1]))


def _gap(a: Box, b: Box) -> float:
    dx = max(0.0, max(a[0], b[0]) - min(a[2], b[2]))
    dy = max(0.0, max(a[1], b[1]) - min(a[3], b[3]))
    return float(np.hypot(dx, dy))
