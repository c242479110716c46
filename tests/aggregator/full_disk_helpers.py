"""Pieces of the full-disk tests: a small real filesystem (tmpfs with a size limit, made
by the test as root), a PostgreSQL tablespace on one, and an agent process that sends
events with real-sized evidence."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_agent.outbox import Outbox
from edge_agent.publisher import Publisher
from tests.aggregator.delivery_helpers import delivery, make_event, wait_for


@contextlib.contextmanager
def small_filesystem(where: Path, size_mb: int, owner: str | None = None) -> Iterator[Path]:
    """A tmpfs of ``size_mb`` mounted at ``where`` (skips unless root can mount one)."""
    if os.geteuid() != 0:
        pytest.skip("the full-disk tests mount a size-limited tmpfs: run them as root")
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0755", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        if owner is not None:
            subprocess.run(["chown", f"{owner}:{owner}", str(where)], check=True)
        yield where
    finally:
        for _ in range(20):
            if subprocess.run(["umount", str(where)], capture_output=True).returncode == 0:
                break
            time.sleep(0.5)  # a process may still hold a file there


def ballast(folder: Path, mb: float) -> Path:
    """A file of ``mb`` megabytes: deleting it is "space returns"."""
    path = folder / "ballast.bin"
    with open(path, "wb") as f:
        f.write(b"\0" * int(mb * 2**20))
    return path


@contextlib.contextmanager
def pg_database_on(folder: Path, admin_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database whose default tablespace is ``folder`` (owned by the
    server's user); dropped with its tablespace afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"gw_full_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE TABLESPACE {name} LOCATION '{folder}'"))
            conn.execute(text(f'CREATE DATABASE "{name}" TABLESPACE {name}'))
    except Exception as exc:  # not a local server, or no superuser
        admin.dispose()
        pytest.skip(f"cannot make a PostgreSQL tablespace on a small filesystem: {exc}")
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f"DROP TABLESPACE IF EXISTS {name}"))
        admin.dispose()


def agent_main(argv: list[str]) -> int:
    """``python -m tests.aggregator.full_disk_helpers ENDPOINT OUTBOX CAMS IDS N RATE KB``.

    Submits N events (one per camera in turn) at RATE per second, each with a KB-kilobyte
    snapshot and a 3 × KB clip, appending each id to IDS once it is in the outbox; then
    waits until the outbox is empty (exit 0) or 180 s have passed (exit 1).
    """
    endpoint, outbox, cams_file, ids_file, count, rate, kb = argv
    cams = Path(cams_file).read_text().split()
    size = int(kb) * 1024
    pub = Publisher("agent-full", delivery(endpoint, resend_after_s=1.0), Outbox(Path(outbox)))
    pub.start()
    with open(ids_file, "a") as out:
        for i in range(int(count)):
            ev = make_event(cams[i % len(cams)], evidence=["snapshot.jpg", "clip.mp4"])
            blobs = {"snapshot.jpg": os.urandom(size), "clip.mp4": os.urandom(3 * size)}
            pub.submit(ev, blobs)
            out.write(ev.event_id + "\n")
            out.flush()
            time.sleep(1 / float(rate))
    done = wait_for(lambda: pub.outbox.count() == 0, timeout=180, step=0.2)
    pub.stop()
    return 0 if done else 1


if __name__ == "__main__":
    import sys

    raise SystemExit(agent_main(sys.argv[1:]))
