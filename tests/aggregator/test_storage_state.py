"""The storage state's logic: which errors mean a full disk, one log line per change of
state, retry pacing, and the web pages' banner (the full-disk behaviour itself is tested
on a real small filesystem in test_storage_full.py)."""

from __future__ import annotations

import errno
import logging
import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import IntegrityError, OperationalError

from aggregator.storage import StorageFull, StorageHealth, is_disk_full
from aggregator.web.app import create_app
from aggregator.web.auth import create_user
from gridwatch.config import Settings
from gridwatch.db import session_scope
from tests.aggregator.test_store import event_types, make_registry


class _PgError(Exception):
    sqlstate = "53100"


@pytest.mark.parametrize(
    ("exc", "full"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), "evidence volume full"),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), "evidence volume full"),
        (OSError(errno.EACCES, "Permission denied"), None),
        (
            OperationalError("INSERT", {}, sqlite3.OperationalError("database or disk is full")),
            "database full",
        ),
        (OperationalError("INSERT", {}, _PgError('could not extend file "x"')), "database full"),
        (OperationalError("SELECT", {}, sqlite3.OperationalError("database is locked")), None),
        (IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint")), None),
    ],
)
def test_which_errors_mean_a_full_disk(exc: BaseException, full: str | None) -> None:
    reason = is_disk_full(exc)
    assert (reason.split(":")[0] if reason else None) == full


def test_one_log_line_per_change_of_state_and_paced_retries(
    caplog: pytest.LogCaptureFixture,
) -> None:
    health = StorageHealth(retry_s=10)
    caplog.set_level(logging.WARNING, "aggregator.storage")
    for _ in range(5):
        health.full(StorageFull("evidence", "evidence volume full: ENOSPC"), now=100.0)
    assert caplog.text.count("STORAGE FULL") == 1 and not health.ok
    assert not health.may_try(now=105.0) and health.may_try(now=110.0)
    health.recovered(by_commit=False)  # a heartbeat's write clears no commit's refusal
    assert not health.ok
    health.recovered()
    health.recovered()
    assert health.ok and caplog.text.count("storage writable again") == 1
    assert health.full_gauge._value.get() == 0  # type: ignore[attr-defined]
    # a state only heartbeats began is cleared by a heartbeat's write
    health.full(StorageFull("database", "database full", by_commit=False), now=200.0)
    health.recovered(by_commit=False)
    assert health.ok


def test_pages_say_when_storage_is_full(sqlite_url: str, tmp_path: Path) -> None:
    engine = make_registry(sqlite_url)
    with session_scope(engine) as db:
        create_user(db, "op", "operator", "correct horse battery")
    health = StorageHealth()
    app = create_app(
        Settings(),
        db_url=sqlite_url,
        evidence_dir=tmp_path / "evidence",
        event_types=event_types(),
        storage=health,
    )
    client = TestClient(app)
    client.post("/login", data={"username": "op", "password": "correct horse battery"})
    assert 'id="storage-full"' not in client.get("/cases").text
    health.full(StorageFull("evidence", "evidence volume full: [Errno 28] No space left"))
    page = client.get("/cases?lang=en").text
    assert 'id="storage-full"' in page and "No space left" in page
    health.recovered()
    assert 'id="storage-full"' not in client.get("/cases").text
