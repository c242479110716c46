"""``GET /evidence/{path}``: evidence files (JPEG snapshots, clips) for logged-in users.

Only files inside the configured evidence folder are served: the path is resolved
(following ``..`` and symlinks) and must stay under the folder, else 404.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from aggregator.web.deps import AppConfig, CurrentUser

router = APIRouter(tags=["evidence"])


def evidence_url(relative: str) -> str:
    """The URL of an evidence file stored as ``relative`` (to the evidence folder)."""
    from urllib.parse import quote

    return "/evidence/" + quote(relative.lstrip("/"))


def resolve_evidence(root: Path, relative: str) -> Path | None:
    """The file ``relative`` names under ``root``, or None if it is outside or missing."""
    base = root.resolve()
    try:
        target = (base / relative).resolve()
    except (OSError, RuntimeError):
        return None
    if not target.is_relative_to(base) or not target.is_file():
        return None
    return target


@router.get("/evidence/{path:path}", response_class=FileResponse)
def get_evidence(path: str, ctx: AppConfig, _user: CurrentUser) -> FileResponse:
    """One evidence file (404 when it does not exist or lies outside the folder)."""
    target = resolve_evidence(ctx.evidence_dir, path)
    if target is None:
        raise HTTPException(404, "no such evidence file")
    return FileResponse(target, headers={"Cache-Control": "private, max-age=3600"})
