"""Shared fixtures of the edge agent tests: composed scenes (cached per session), weights."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WEIGHTS_DIR = (REPO / os.environ.get("GRIDWATCH_WEIGHTS_DIR", "../shared/models")).resolve()
SIZE = (640, 360)


@pytest.fixture(scope="session")
def weights_dir() -> Path:
    if not (WEIGHTS_DIR / "yolo26n_from_int8.pt").is_file():
        pytest.skip(f"YOLO weights missing in {WEIGHTS_DIR}: set GRIDWATCH_WEIGHTS_DIR")
    pytest.importorskip("ultralytics")
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "False")
    os.environ.setdefault(
        "YOLO_CONFIG_DIR", str(Path(os.environ.get("TMPDIR", "/tmp")) / "yolo-cfg")
    )
    return WEIGHTS_DIR


@pytest.fixture(scope="session")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """All composed scenes at 640×360 in one session folder (about 25 s to make)."""
    from gridwatch.scenes import compose, sprites

    if not sprites.VTEST.is_file():
        pytest.skip(f"{sprites.VTEST} missing: install the Debian package opencv-doc")
    out = tmp_path_factory.mktemp("edge-scenes")
    for name in ("dumping", "vending", "parking", "walkthrough", "traffic"):
        compose.compose_scene(name, out, size=SIZE)
    return out
