"""Learning from operators: suppressions of known false positives, clean frames.

Revision ID: 0004_suppressions
Revises: 0003_web
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_suppressions"
down_revision = "0003_web"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "suppressions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("rule_id", sa.String(64), nullable=False),
        sa.Column("event_code", sa.String(17), nullable=False),
        sa.Column("boxes", sa.JSON(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("event_id", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("lifted_at", sa.Float(), nullable=True),
        sa.Column("lifted_by", sa.String(64), nullable=True),
    )
    op.create_index("ix_suppressions_camera_id", "suppressions", ["camera_id"])
    op.create_index("ix_suppressions_case_id", "suppressions", ["case_id"])
    op.add_column("events", sa.Column("frame", sa.JSON(), nullable=True))
    op.add_column("events", sa.Column("suppressed_by", sa.Integer(), nullable=True))
    op.create_index("ix_events_suppressed_by", "events", ["suppressed_by"])


def downgrade() -> None:
    op.drop_index("ix_events_suppressed_by", table_name="events")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("suppressed_by")
        batch.drop_column("frame")
    op.drop_table("suppressions")
