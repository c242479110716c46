"""A full disk is a state, not a crash: the aggregator's storage health.

When the evidence volume refuses a write (``ENOSPC``, ``EDQUOT``) or the database
refuses one for lack of space (SQLite "database or disk is full", PostgreSQL SQLSTATE
53100 "could not extend file ... No space left on device"), the store raises
:class:`StorageFull`. The receiver then:

* does not ack the batch: the agents keep the events in their outboxes and resend them;
  the idempotent insert keeps each event once when space returns;
* marks the state ``storage_full`` in :class:`StorageHealth`: logged once per change of
  state (with the reason), exported as metrics (``gridwatch_storage_full``,
  ``gridwatch_storage_full_seconds_total``, ``gridwatch_storage_refused_total``) and
  answered on the health endpoint (``/healthz`` beside ``/metrics``: 503 and the reason);
* tries again no more often than ``aggregator.storage.retry_s`` (batches received in
  between are not committed and not acked: cheap, and the agents resend them); the first
  commit that succeeds marks the state ``ok`` again, by itself.

Files a failed batch had written already are removed, so a batch that fails on the
database leaves no evidence behind, and what it had written frees space again.

>>> is_disk_full(OSError(28, "No space left on device"))
'evidence volume full: [Errno 28] No space left on device'
"""

from __future__ import annotations

import errno
import logging
import threading
import time
from dataclasses import dataclass, replace
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

log = logging.getLogger(__name__)

OK = "ok"
STORAGE_FULL = "storage_full"
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
_PG_DISK_FULL = "53100"  # PostgreSQL: disk_full
_DB_FULL_TEXT = (
    "database or disk is full",  # SQLite (SQLITE_FULL)
    "could not extend file",  # PostgreSQL, when the SQLSTATE is not at hand
    "no space left on device",
    "disk quota exceeded",
)


class StorageFull(Exception):
    """The evidence volume or the database refused a write for lack of space.

    Recover by freeing space (or growing the volume): the aggregator retries by itself
    and the agents resend what was not acked. ``where`` is ``evidence`` or ``database``.
    """

    def __init__(self, where: str, reason: str, *, by_commit: bool = True) -> None:
        self.where = where
        self.reason = reason
        self.by_commit = by_commit  # False: a heartbeat or upkeep write was refused
        super().__init__(reason)


def _sqlstate(exc: BaseException) -> str | None:
    orig = getattr(exc, "orig", exc)
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


def is_disk_full(exc: BaseException) -> str | None:
    """Why ``exc`` means a full disk (a short text), or None when it means something else."""
    if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
        return f"evidence volume full: {exc}"
    if _sqlstate(exc) == _PG_DISK_FULL:
        return f"database full: {str(getattr(exc, 'orig', exc)).strip()[:300]}"
    text = str(getattr(exc, "orig", exc)).lower()
    if any(marker in text for marker in _DB_FULL_TEXT):
        return f"database full: {str(getattr(exc, 'orig', exc)).strip()[:300]}"
    return None


@dataclass(frozen=True)
class StorageState:
    state: str
    reason: str | None
    since: float
    where: str | None = None  # evidence | database, while full
    by_commit: bool = True  # the last refusal was a batch's commit (only a commit clears it)

    @property
    def ok(self) -> bool:
        return self.state == OK

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "reason": self.reason,
            "since": self.since,
            "where": self.where,
        }


class StorageHealth:
    """The aggregator's storage state, shared by receiver, metrics and web (thread-safe)."""

    def __init__(self, retry_s: float = 5.0, registry: CollectorRegistry | None = None) -> None:
        self.retry_s = retry_s
        self._lock = threading.Lock()
        self._state = StorageState(OK, None, time.time())
        self._next_try = 0.0
        r = registry if registry is not None else CollectorRegistry()
        self.full_gauge = Gauge(
            "gridwatch_storage_full",
            "1 while the evidence volume or the database refuses writes (nothing is acked).",
            registry=r,
        )
        self.refused = Counter(
            "gridwatch_storage_refused",
            "Batches not committed (not acked) because storage was full.",
            ["where"],
            registry=r,
        )
        self.full_seconds = Counter(
            "gridwatch_storage_full_seconds", "Time spent in the storage_full state.", registry=r
        )

    def snapshot(self) -> StorageState:
        with self._lock:
            return self._state

    @property
    def ok(self) -> bool:
        return self.snapshot().ok

    def may_try(self, now: float | None = None) -> bool:
        """Whether a commit should be attempted now (always while ok; every ``retry_s``
        while full)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            return self._state.ok or now >= self._next_try

    def full(self, exc: StorageFull, now: float | None = None) -> None:
        """A write was refused for lack of space: enter (or stay in) ``storage_full``."""
        self.refused.labels(where=exc.where).inc()
        with self._lock:
            self._next_try = (time.monotonic() if now is None else now) + self.retry_s
            was_ok = self._state.ok
            if was_ok:
                self._state = StorageState(
                    STORAGE_FULL, exc.reason, time.time(), exc.where, exc.by_commit
                )
            elif exc.by_commit and not self._state.by_commit:
                self._state = replace(self._state, by_commit=True)
        if was_ok:
            self.full_gauge.set(1)
            log.error(
                "STORAGE FULL (%s): %s; not acking events (the edge agents keep them in "
                "their outboxes); retrying every %g s",
                exc.where,
                exc.reason,
                self.retry_s,
            )

    def recovered(self, *, by_commit: bool = True) -> None:
        """A write succeeded: back to ``ok`` (logged once, with how long it lasted).

        A heartbeat's small write (``by_commit=False``) clears only a state a refused
        heartbeat began: a database too full for a batch may still update rows in place.
        """
        with self._lock:
            previous = self._state
            if previous.ok or (not by_commit and previous.by_commit):
                return
            self._state = StorageState(OK, None, time.time())
        lasted = max(0.0, time.time() - previous.since)
        self.full_seconds.inc(lasted)
        self.full_gauge.set(0)
        log.warning(
            "storage writable again after %.0f s (%s): committing and acking again",
            lasted,
            previous.reason,
        )
