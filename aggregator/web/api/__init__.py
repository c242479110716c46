"""The JSON API, one router per resource; ``ROUTERS`` is what the app includes."""

from __future__ import annotations

from fastapi import APIRouter

from aggregator.web.api import (
    cameras,
    cases,
    event_types,
    grid,
    open311,
    review,
    session,
    stats,
    suppressions,
)

ROUTERS: list[APIRouter] = [
    session.router,
    cases.router,
    review.router,
    cameras.router,
    suppressions.router,
    grid.router,
    event_types.router,
    stats.router,
    open311.router,
]
