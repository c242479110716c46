"""Aggregator: events, cases, case transitions, camera status.

Revision ID: 0002_cases
Revises: 0001_registry
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_cases"
down_revision = "0001_registry"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("origin_key", sa.String(96), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("event_code", sa.String(17), nullable=False),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("grid_code", sa.String(14), nullable=False),
        sa.Column("community_code", sa.String(12), nullable=False),
        sa.Column("street_code", sa.String(9), nullable=False),
        sa.Column("grid_path", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("department", sa.String(64), nullable=True),
        sa.Column("first_seen", sa.Float(), nullable=False),
        sa.Column("last_seen", sa.Float(), nullable=False),
        sa.Column("sightings", sa.Integer(), nullable=False),
        sa.Column("max_confidence", sa.Float(), nullable=False),
        sa.Column("last_boxes", sa.JSON(), nullable=False),
        sa.Column("ended_at", sa.Float(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("dispatched_at", sa.Float(), nullable=True),
        sa.Column("deadline", sa.Float(), nullable=True),
        sa.Column("handled_at", sa.Float(), nullable=True),
        sa.Column("verify_deadline", sa.Float(), nullable=True),
        sa.Column("closed_at", sa.Float(), nullable=True),
        sa.Column("reject_reason", sa.String(32), nullable=True),
        sa.Column("duplicate_of", sa.Integer(), nullable=True),
        sa.Column("reopen_count", sa.Integer(), nullable=False),
    )
    for column in ("event_code", "grid_code", "community_code", "street_code", "state"):
        op.create_index(f"ix_cases_{column}", "cases", [column])
    op.create_index("ix_cases_match", "cases", ["camera_id", "event_code", "state"])
    op.create_table(
        "events",
        sa.Column("event_id", sa.String(32), primary_key=True),
        sa.Column("incident_id", sa.String(32), nullable=False),
        sa.Column("phase", sa.String(8), nullable=False),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=True),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("node_id", sa.String(64), nullable=False),
        sa.Column("rule_id", sa.String(64), nullable=False),
        sa.Column("event_code", sa.String(17), nullable=False),
        sa.Column("grid_code", sa.String(14), nullable=False),
        sa.Column("t_start", sa.Float(), nullable=False),
        sa.Column("t_event", sa.Float(), nullable=False),
        sa.Column("received_at", sa.Float(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("boxes", sa.JSON(), nullable=False),
        sa.Column("zone_id", sa.String(64), nullable=True),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
    )
    op.create_index("ix_events_incident_id", "events", ["incident_id"])
    op.create_index("ix_events_case_id", "events", ["case_id"])
    op.create_index("ix_events_camera_id", "events", ["camera_id"])
    op.create_table(
        "case_transitions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("from_state", sa.String(16), nullable=True),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("reason", sa.String(32), nullable=True),
    )
    op.create_index("ix_case_transitions_case_id", "case_transitions", ["case_id"])
    op.create_table(
        "camera_status",
        sa.Column("camera_id", sa.String(64), primary_key=True),
        sa.Column("node_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("last_frame_at", sa.Float(), nullable=True),
        sa.Column("last_heartbeat_at", sa.Float(), nullable=False),
        sa.Column("since", sa.Float(), nullable=False),
        sa.Column(
            "maintenance_case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=True
        ),
    )
    op.create_index("ix_camera_status_state", "camera_status", ["state"])


def downgrade() -> None:
    op.drop_table("camera_status")
    op.drop_table("case_transitions")
    op.drop_table("events")
    op.drop_table("cases")
