"""Retention and bounded outboxes: evidence kept per event, hourly sighting counts, edge
nodes' outbox figures, evidence dropped per camera.

Revision ID: 0005_retention
Revises: 0004_suppressions
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_retention"
down_revision = "0004_suppressions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("clip_bytes", sa.BigInteger(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("image_bytes", sa.BigInteger(), nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("evidence_files", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("evidence_level", sa.SmallInteger(), nullable=False, server_default="0")
        )
    # Events stored before: their sizes are unknown (retention stats the files), their
    # level follows the names they list.
    op.execute(
        "UPDATE events SET evidence_level = CASE"
        " WHEN CAST(evidence AS TEXT) LIKE '%.mp4%' THEN 2"
        " WHEN CAST(evidence AS TEXT) LIKE '%.jp%' THEN 1 ELSE 0 END"
    )
    op.create_index("ix_events_retention", "events", ["evidence_level", "t_event"])
    with op.batch_alter_table("camera_status") as batch:
        batch.add_column(
            sa.Column("dropped_clips", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("dropped_images", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_table(
        "edge_nodes",
        sa.Column("node_id", sa.String(64), primary_key=True),
        sa.Column("last_heartbeat_at", sa.Float(), nullable=False),
        sa.Column("outbox_events", sa.BigInteger(), nullable=True),
        sa.Column("outbox_bytes", sa.BigInteger(), nullable=True),
        sa.Column("outbox_max_bytes", sa.BigInteger(), nullable=True),
        sa.Column("dropped_clips", sa.Integer(), nullable=False),
        sa.Column("dropped_images", sa.Integer(), nullable=False),
    )
    op.create_table(
        "sighting_counts",
        sa.Column("case_id", sa.Integer(), primary_key=True),
        sa.Column("camera_id", sa.String(64), primary_key=True),
        sa.Column("event_code", sa.String(17), primary_key=True),
        sa.Column("phase", sa.String(8), primary_key=True),
        sa.Column("hour", sa.Float(), primary_key=True),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("max_confidence", sa.Float(), nullable=False),
        sa.Column("first_t", sa.Float(), nullable=False),
        sa.Column("last_t", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sighting_counts")
    op.drop_table("edge_nodes")
    with op.batch_alter_table("camera_status") as batch:
        batch.drop_column("dropped_images")
        batch.drop_column("dropped_clips")
    op.drop_index("ix_events_retention", "events")
    with op.batch_alter_table("events") as batch:
        for column in ("evidence_level", "evidence_files", "image_bytes", "clip_bytes"):
            batch.drop_column(column)
