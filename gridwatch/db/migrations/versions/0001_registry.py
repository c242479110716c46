"""Registry: grid units and cameras.

Revision ID: 0001_registry
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_registry"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "grid_units",
        sa.Column("code", sa.String(14), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(32), nullable=True),
        sa.Column("parent_code", sa.String(14), nullable=True),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("geometry", sa.JSON(), nullable=False),
    )
    op.create_index("ix_grid_units_level", "grid_units", ["level"])
    op.create_index("ix_grid_units_parent_code", "grid_units", ["parent_code"])
    op.create_table(
        "cameras",
        sa.Column("camera_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("main_url", sa.Text(), nullable=False),
        sa.Column("sub_url", sa.Text(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("analysis_interval_s", sa.Float(), nullable=False),
        sa.Column("zones", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("grid_code", sa.String(14), sa.ForeignKey("grid_units.code"), nullable=False),
        sa.Column("community_code", sa.String(12), nullable=False),
        sa.Column("street_code", sa.String(9), nullable=False),
        sa.Column("grid_path", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_cameras_grid_code", "cameras", ["grid_code"])
    op.create_index("ix_cameras_community_code", "cameras", ["community_code"])
    op.create_index("ix_cameras_street_code", "cameras", ["street_code"])


def downgrade() -> None:
    op.drop_table("cameras")
    op.drop_table("grid_units")
