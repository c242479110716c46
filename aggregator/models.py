"""Typed ORM models of the aggregator: events, cases, their transitions, camera health.

Times are Unix seconds (floats) throughout: events arrive with Unix times, matching and
deadline arithmetic work on them, and bulk inserts stay cheap. Views convert them to
ISO 8601 for people and for Open311.

An event points at its case (``events.case_id``); a case never loses an event. A case is
opened by exactly one origin (``cases.origin_key``: the id of the event that opened it,
or ``maint:<camera>:<since>`` for a camera maintenance case), and the unique constraint on
that key is what makes opening a case idempotent across batches, retries and restarts.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from gridwatch.db.models import Base


class CaseRow(Base):
    """One problem in one grid, followed through the workflow (see aggregator/workflow.py)."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    origin_key: Mapped[str] = mapped_column(String(96), unique=True)
    kind: Mapped[str] = mapped_column(String(16), doc="'event' or 'maintenance'.")
    event_code: Mapped[str] = mapped_column(String(17), index=True)
    camera_id: Mapped[str] = mapped_column(String(64))
    grid_code: Mapped[str] = mapped_column(String(14), index=True)
    community_code: Mapped[str] = mapped_column(String(12), index=True)
    street_code: Mapped[str] = mapped_column(String(9), index=True)
    grid_path: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), index=True)
    department: Mapped[str | None] = mapped_column(String(64))
    first_seen: Mapped[float] = mapped_column(Float)
    last_seen: Mapped[float] = mapped_column(Float)
    sightings: Mapped[int] = mapped_column(Integer, default=0)
    max_confidence: Mapped[float] = mapped_column(Float, default=0.0)
    last_boxes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    ended_at: Mapped[float | None] = mapped_column(Float, doc="Last END event (camera).")
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    dispatched_at: Mapped[float | None] = mapped_column(Float)
    deadline: Mapped[float | None] = mapped_column(Float, doc="Handle-by time (dispatch).")
    handled_at: Mapped[float | None] = mapped_column(Float)
    verify_deadline: Mapped[float | None] = mapped_column(Float, doc="Verify-by time.")
    closed_at: Mapped[float | None] = mapped_column(Float)
    reject_reason: Mapped[str | None] = mapped_column(String(32))
    duplicate_of: Mapped[int | None] = mapped_column(Integer)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0, doc="Rework (返工).")

    __table_args__ = (Index("ix_cases_match", "camera_id", "event_code", "state"),)


class EventRow(Base):
    """One event as an edge agent sent it, placed in its camera's grid."""

    __tablename__ = "events"

    event_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    incident_id: Mapped[str] = mapped_column(String(32), index=True)
    phase: Mapped[str] = mapped_column(String(8))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    camera_id: Mapped[str] = mapped_column(String(64), index=True)
    node_id: Mapped[str] = mapped_column(String(64))
    rule_id: Mapped[str] = mapped_column(String(64))
    event_code: Mapped[str] = mapped_column(String(17))
    grid_code: Mapped[str] = mapped_column(String(14))
    t_start: Mapped[float] = mapped_column(Float)
    t_event: Mapped[float] = mapped_column(Float)
    received_at: Mapped[float] = mapped_column(Float)
    confidence: Mapped[float] = mapped_column(Float)
    boxes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    zone_id: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(128))
    evidence: Mapped[list[Any]] = mapped_column(
        JSON, default=list, doc="Paths relative to the evidence folder (those still kept)."
    )
    frame: Mapped[dict[str, Any] | None] = mapped_column(
        JSON, nullable=True, doc="The clean frame's boxes and signature (protocol v3)."
    )
    suppressed_by: Mapped[int | None] = mapped_column(
        Integer, nullable=True, index=True, doc="The suppression that held it back."
    )
    # What of the evidence is still on disk (aggregator/retention.py keeps these).
    clip_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    image_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    evidence_files: Mapped[int] = mapped_column(Integer, default=0)
    evidence_level: Mapped[int] = mapped_column(
        SmallInteger, default=0, doc="2: a clip (and images) kept, 1: images only, 0: nothing."
    )

    __table_args__ = (Index("ix_events_retention", "evidence_level", "t_event"),)


class TransitionRow(Base):
    """One step of a case through the workflow: who moved it, when, from where to where."""

    __tablename__ = "case_transitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[float] = mapped_column(Float)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str | None] = mapped_column(String(32))


class CameraStatusRow(Base):
    """The latest health of one camera, as its edge agent's heartbeats report it."""

    __tablename__ = "camera_status"

    camera_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str | None] = mapped_column(Text, doc="Masked by the edge agent.")
    last_frame_at: Mapped[float | None] = mapped_column(Float)
    last_heartbeat_at: Mapped[float] = mapped_column(Float)
    since: Mapped[float] = mapped_column(Float, doc="Entered its current state at.")
    maintenance_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    dropped_clips: Mapped[int] = mapped_column(
        Integer, default=0, doc="Clips its node's bounded outbox dropped (heartbeat)."
    )
    dropped_images: Mapped[int] = mapped_column(Integer, default=0)


class EdgeNodeRow(Base):
    """The latest outbox figures of one edge node, from its heartbeats."""

    __tablename__ = "edge_nodes"

    node_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_heartbeat_at: Mapped[float] = mapped_column(Float)
    outbox_events: Mapped[int | None] = mapped_column(BigInteger)
    outbox_bytes: Mapped[int | None] = mapped_column(BigInteger)
    outbox_max_bytes: Mapped[int | None] = mapped_column(BigInteger)
    dropped_clips: Mapped[int] = mapped_column(Integer, default=0)
    dropped_images: Mapped[int] = mapped_column(Integer, default=0)


class SightingCountRow(Base):
    """Old sightings (event rows) after retention: counts per case, camera, code, hour."""

    __tablename__ = "sighting_counts"

    case_id: Mapped[int] = mapped_column(Integer, primary_key=True, doc="0: no case.")
    camera_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_code: Mapped[str] = mapped_column(String(17), primary_key=True)
    phase: Mapped[str] = mapped_column(String(8), primary_key=True)
    hour: Mapped[float] = mapped_column(Float, primary_key=True, doc="Unix time of the hour.")
    events: Mapped[int] = mapped_column(Integer)
    max_confidence: Mapped[float] = mapped_column(Float)
    first_t: Mapped[float] = mapped_column(Float)
    last_t: Mapped[float] = mapped_column(Float)


class SuppressionRow(Base):
    """A known false positive of one camera, learnt from an operator's rejection.

    A later START of the same rule on that camera whose boxes overlap ``boxes`` and whose
    place looks like ``signature`` opens no case while the suppression is active (not
    lifted, younger than ``aggregator.suppression.ttl_s``); it is stored with
    ``events.suppressed_by`` set, and counted.
    """

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    camera_id: Mapped[str] = mapped_column(String(64), index=True)
    rule_id: Mapped[str] = mapped_column(String(64))
    event_code: Mapped[str] = mapped_column(String(17))
    boxes: Mapped[list[Any]] = mapped_column(JSON, doc="Normalized xyxy of the rejected event.")
    signature: Mapped[str] = mapped_column(Text, doc="gridwatch.appearance signature.")
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    event_id: Mapped[str] = mapped_column(String(32), doc="The rejected event it was learnt from.")
    reason: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[float] = mapped_column(Float)
    created_by: Mapped[str] = mapped_column(String(64))
    lifted_at: Mapped[float | None] = mapped_column(Float)
    lifted_by: Mapped[str | None] = mapped_column(String(64))


# Typed handles on the tables, for Core bulk statements (the hot paths skip the ORM).
CASES = cast(Table, CaseRow.__table__)
EVENTS = cast(Table, EventRow.__table__)
TRANSITIONS = cast(Table, TransitionRow.__table__)
CAMERA_STATUS = cast(Table, CameraStatusRow.__table__)
SUPPRESSIONS = cast(Table, SuppressionRow.__table__)
EDGE_NODES = cast(Table, EdgeNodeRow.__table__)
SIGHTING_COUNTS = cast(Table, SightingCountRow.__table__)
