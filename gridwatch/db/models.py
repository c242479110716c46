"""Typed ORM models of the registry: grid units and cameras."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base shared by the registry and the aggregator's tables."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class GridUnitRow(Base):
    """One unit of the grid hierarchy: the district, a street/town, a community or a grid."""

    __tablename__ = "grid_units"

    code: Mapped[str] = mapped_column(String(14), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    level: Mapped[str] = mapped_column(String(16), index=True)
    kind: Mapped[str | None] = mapped_column(String(32))
    parent_code: Mapped[str | None] = mapped_column(String(14), index=True)
    path: Mapped[str] = mapped_column(Text, doc="Names from the district down, joined by ' › '.")
    geometry: Mapped[dict[str, Any]] = mapped_column(doc="GeoJSON geometry, WGS84.")


class CameraRow(Base):
    """A registered camera with the grid cell that owns the place it looks at."""

    __tablename__ = "cameras"

    camera_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    main_url: Mapped[str] = mapped_column(Text, doc="May carry a password: mask before showing.")
    sub_url: Mapped[str] = mapped_column(Text, doc="May carry a password: mask before showing.")
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    analysis_interval_s: Mapped[float] = mapped_column(Float)
    zones: Mapped[list[Any]] = mapped_column(default=list)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    grid_code: Mapped[str] = mapped_column(ForeignKey("grid_units.code"))
    community_code: Mapped[str] = mapped_column(String(12))
    street_code: Mapped[str] = mapped_column(String(9))
    grid_path: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(32), doc="Hash of the registry row.")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        Index("ix_cameras_grid_code", "grid_code"),
        Index("ix_cameras_community_code", "community_code"),
        Index("ix_cameras_street_code", "street_code"),
    )
