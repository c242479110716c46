"""Shared fixtures: real databases (SQLite and PostgreSQL), paths, offline YOLO settings."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get(
    "GRIDWATCH_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)

# ultralytics must never try the network in tests.
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "False")


def _pg_admin_engine():  # type: ignore[no-untyped-def]
    from sqlalchemy import create_engine

    return create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def pg_available() -> bool:
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    try:
        with _pg_admin_engine().connect() as conn:
            conn.execute(text("select 1"))
        return True
    except OperationalError:
        return False


@pytest.fixture
def pg_url(pg_available: bool) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    if not pg_available:
        pytest.skip(f"no PostgreSQL server reachable at GRIDWATCH_TEST_PG_URL={PG_ADMIN_URL}")
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    name = f"gw_test_{uuid.uuid4().hex[:12]}"
    admin = _pg_admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'gridwatch.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test that takes ``db_url`` runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'gridwatch.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's own database or config by accident."""
    monkeypatch.delenv("GRIDWATCH_DB", raising=False)
    monkeypatch.delenv("GRIDWATCH_CONFIG", raising=False)
    monkeypatch.delenv("GRIDWATCH_NODE_COUNT", raising=False)  # set in edge pods
    monkeypatch.delenv("GRIDWATCH_NODE_ID", raising=False)
    monkeypatch.setenv("GRIDWATCH_DATA_DIR", str(tmp_path / "data"))


WEIGHTS_DIR = (REPO / os.environ.get("GRIDWATCH_WEIGHTS_DIR", "../shared/models")).resolve()
SCENE_SIZE = (640, 360)
SCENE_HOLD_S = 300.0
SCENES = ("dumping", "vending", "parking", "walkthrough", "traffic")


@pytest.fixture(scope="session")
def weights_dir() -> Path:
    """The folder with the YOLO weights (``$GRIDWATCH_WEIGHTS_DIR``, else ../shared/models)."""
    if not (WEIGHTS_DIR / "yolo26n_from_int8.pt").is_file():
        pytest.skip(f"YOLO weights missing in {WEIGHTS_DIR}: set GRIDWATCH_WEIGHTS_DIR")
    pytest.importorskip("ultralytics")
    os.environ.setdefault(
        "YOLO_CONFIG_DIR", str(Path(os.environ.get("TMPDIR", "/tmp")) / "yolo-cfg")
    )
    return WEIGHTS_DIR


@pytest.fixture(scope="session")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """All composed scenes at 640×360: MP4, H.264 stream for the RTSP server, ground truth,
    positive scenes with their last frame held 5 minutes, and ``labels.json`` for eval."""
    from gridwatch.scenes import compose, sprites
    from gridwatch.scenes.labels import write_labels

    if not sprites.VTEST.is_file():
        pytest.skip(f"{sprites.VTEST} missing: install the Debian package opencv-doc")
    out = tmp_path_factory.mktemp("scenes")
    for name in SCENES:
        compose.compose_scene(name, out, size=SCENE_SIZE, h264=True, hold_s=SCENE_HOLD_S)
    write_labels(out)
    return out


# RTSP fixtures (rtsp_clips, rtsp_server, rtsp_server_factory) for every test package.
pytest_plugins = ["gridwatch.scenes.testing"]
