"""Which reviewed events become training images, with which labels, in which split.

An operator's review is the label (DOMAIN.md: the 立案 step):

* a case an operator **confirmed** (registered, and every state after it) gives
  positives: each START event of it with a clean frame (protocol v3) is an image whose
  event boxes are labelled with the class ``configs/training.yaml`` gives their word
  under the case's event code;
* a case **rejected as a false positive** gives hard negatives: the same kind of image
  *without* the rejected boxes, so the model learns that this is nothing;
* other rejections are left out: a duplicate, "not our business" or "not a problem
  here" says nothing about whether the object was detected right.

In every image the other things the edge saw on that frame (the ``context`` words:
persons, vehicles, props) keep their labels, unless they cover an event box. Images are
split into train and val **by camera** (a stable hash of the camera id), so a camera
never sits in both and val measures cameras the model has not seen.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from aggregator.cases import iou
from aggregator.models import CASES, EVENTS
from aggregator.workflow import CaseState, RejectReason
from training.vocabulary import TrainingVocabulary

S = CaseState
CONFIRMED = (S.REGISTERED, S.DISPATCHED, S.HANDLED, S.VERIFIED, S.CLOSED)
POSITIVE, NEGATIVE = "positive", "negative"
TRAIN, VAL = "train", "val"
COVERS = 0.5  # a context box this alike (IoU) to an event box is that box, not context
PixelXYXY = tuple[int, int, int, int]


@dataclass(frozen=True)
class Label:
    """One labelled box in pixels of the image."""

    cls: str
    xyxy: PixelXYXY


@dataclass(frozen=True)
class Sample:
    """One training image and its labels."""

    event_id: str
    case_id: int
    camera_id: str
    street_code: str
    event_code: str
    t_event: float
    kind: str  # positive / negative
    image: Path
    width: int
    height: int
    labels: tuple[Label, ...]
    split: str = TRAIN


@dataclass
class Selection:
    """What the export found: the samples, and what it left out and why."""

    samples: list[Sample] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)


def _norm(xyxy: Sequence[int], w: int, h: int) -> tuple[float, float, float, float]:
    return (xyxy[0] / w, xyxy[1] / h, xyxy[2] / w, xyxy[3] / h)


def labels_of(
    kind: str, event_code: str, frame: dict[str, Any], vocab: TrainingVocabulary
) -> tuple[Label, ...] | None:
    """The labels of one event's clean frame (None: a positive the vocabulary does not
    cover, so no label could be given to what the operator confirmed)."""
    w, h = int(frame["width"]), int(frame["height"])
    own = [(b["cls"], tuple(int(v) for v in b["xyxy"])) for b in frame.get("boxes", [])]
    labels: list[Label] = []
    if kind == POSITIVE:
        for word, xyxy in own:
            cls = vocab.event_class(event_code, word)
            if cls is not None:
                labels.append(Label(cls, xyxy))  # type: ignore[arg-type]
        if not labels:
            return None
    own_norm = [_norm(xyxy, w, h) for _, xyxy in own]
    for box in frame.get("seen", []):
        cls = vocab.context_class(box["cls"], float(box.get("conf", 1.0)))
        xyxy = tuple(int(v) for v in box["xyxy"])
        if cls is None or xyxy[2] <= xyxy[0] or xyxy[3] <= xyxy[1]:
            continue
        if any(iou(_norm(xyxy, w, h), o) >= COVERS for o in own_norm):
            continue  # the event's own box (labelled above, or the false positive itself)
        labels.append(Label(cls, xyxy))  # type: ignore[arg-type]
    return tuple(labels)


def camera_fraction(camera_id: str) -> float:
    """A stable number in [0, 1) for a camera: its place in the train/val split."""
    digest = hashlib.sha256(camera_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_by_camera(cameras: Sequence[str], val_fraction: float) -> dict[str, str]:
    """Each camera's split: val when its fraction is below ``val_fraction``. With two or
    more cameras neither split is empty (the nearest camera moves over)."""
    ranked = sorted(set(cameras), key=lambda c: (camera_fraction(c), c))
    split = {c: VAL if camera_fraction(c) < val_fraction else TRAIN for c in ranked}
    if len(ranked) >= 2 and val_fraction > 0:
        if VAL not in split.values():
            split[ranked[0]] = VAL
        if TRAIN not in split.values():
            split[ranked[-1]] = TRAIN
    return split


def _frame_file(evidence_dir: Path, paths: Sequence[str], blob: str) -> Path | None:
    for path in paths or []:
        if str(path).rsplit("/", 1)[-1] == blob:
            file = evidence_dir / str(path)
            return file if file.is_file() else None
    return None


def select_samples(
    conn: Connection,
    evidence_dir: Path,
    vocab: TrainingVocabulary,
    *,
    since: float | None = None,
    codes: Sequence[str] = (),
    per_case: int = 5,
    val_fraction: float = 0.2,
) -> Selection:
    """The training images of every reviewed event case (opened at or after ``since``,
    of ``codes`` when given), at most ``per_case`` newest STARTs per case, split by
    camera."""
    c, e = CASES.c, EVENTS.c
    confirmed = c.state.in_([str(s) for s in CONFIRMED])
    false_pos = (c.state == str(S.REJECTED)) & (c.reject_reason == str(RejectReason.FALSE_POSITIVE))
    where = [c.kind == "event", confirmed | false_pos]
    if since is not None:
        where.append(c.created_at >= since)
    if codes:
        where.append(c.event_code.in_(list(codes)))
    rows = conn.execute(
        select(
            c.id,
            c.state,
            c.street_code,
            c.event_code,
            e.event_id,
            e.camera_id,
            e.t_event,
            e.frame,
            e.evidence,
            e.phase,
        )
        .join(EVENTS, e.case_id == c.id)
        .where(*where)
        .order_by(c.id, e.t_event.desc(), e.event_id)
    )
    out = Selection()
    taken: Counter[int] = Counter()
    for row in rows:
        if row.phase != "start":
            continue
        kind = POSITIVE if row.state != S.REJECTED else NEGATIVE
        if not row.frame:
            out.skipped["no clean frame (agent before protocol v3)"] += 1
            continue
        if taken[row.id] >= per_case:
            out.skipped[f"more than {per_case} per case"] += 1
            continue
        image = _frame_file(evidence_dir, row.evidence, row.frame.get("blob", "frame.jpg"))
        if image is None:
            out.skipped["frame file missing from the evidence folder"] += 1
            continue
        labels = labels_of(kind, row.event_code, row.frame, vocab)
        if labels is None:
            out.skipped[f"{row.event_code}: no box maps to a class"] += 1
            continue
        taken[row.id] += 1
        out.samples.append(
            Sample(
                event_id=row.event_id,
                case_id=row.id,
                camera_id=row.camera_id,
                street_code=row.street_code,
                event_code=row.event_code,
                t_event=row.t_event,
                kind=kind,
                image=image,
                width=int(row.frame["width"]),
                height=int(row.frame["height"]),
                labels=labels,
            )
        )
    split = split_by_camera([s.camera_id for s in out.samples], val_fraction)
    out.samples = [replace(s, split=split[s.camera_id]) for s in out.samples]
    return out
