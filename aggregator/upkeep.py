"""The aggregator's scheduled upkeep: retention runs and the storage gauges.

:class:`Upkeep` is a thread of the aggregator process. Every ``retention.every_s`` it runs
:class:`~aggregator.retention.Retention` (0: never, for a cron job or a Kubernetes
CronJob running ``gridwatch retention run`` instead), and every ``retention.stats_every_s``
it counts what storage holds (:func:`storage_stats`: evidence bytes and files still on
disk, rows per table). The metrics (:class:`StorageMetrics`, on the aggregator's
registry) are:

* ``gridwatch_evidence_bytes{kind=clip|image}``, ``gridwatch_evidence_files``,
  ``gridwatch_table_rows{table=...}`` (as last counted), ``gridwatch_storage_stats_age_seconds``
* ``gridwatch_evidence_volume_free_bytes`` / ``..._size_bytes`` (read at each scrape)
* ``gridwatch_retention_deleted_total{what=clips|images|rows}``,
  ``gridwatch_retention_deleted_bytes_total``, ``gridwatch_retention_runs_total``,
  ``gridwatch_retention_failures_total``, ``gridwatch_retention_last_run_timestamp_seconds``

A database or file-system error in a run is logged (once per distinct message) and
counted, and the next run tries again: retention never stops the receiver.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from aggregator.config import RetentionConfig
from aggregator.models import CAMERA_STATUS, CASES, EDGE_NODES, EVENTS, SIGHTING_COUNTS, TRANSITIONS
from aggregator.retention import Retention, RetentionReport

log = logging.getLogger(__name__)

TABLES = {
    "events": EVENTS,
    "cases": CASES,
    "case_transitions": TRANSITIONS,
    "camera_status": CAMERA_STATUS,
    "sighting_counts": SIGHTING_COUNTS,
    "edge_nodes": EDGE_NODES,
}


def storage_stats(engine: Engine) -> dict[str, Any]:
    """Evidence still on disk (by the rows: bytes per kind, files) and rows per table."""
    e = EVENTS.c
    with engine.connect() as conn:
        clip, image, files = conn.execute(
            select(
                func.coalesce(func.sum(e.clip_bytes), 0),
                func.coalesce(func.sum(e.image_bytes), 0),
                func.coalesce(func.sum(e.evidence_files), 0),
            )
        ).one()
        rows = {
            name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
            for name, table in TABLES.items()
        }
    return {
        "evidence_bytes": {"clip": int(clip), "image": int(image)},
        "evidence_files": int(files),
        "rows": rows,
        "counted_at": time.time(),
    }


class StorageMetrics(Collector):
    """Storage gauges and retention counters on one registry (see the module docstring)."""

    def __init__(self, registry: CollectorRegistry, evidence_dir: Path) -> None:
        self.evidence_dir = evidence_dir
        self.stats: dict[str, Any] | None = None
        r = registry
        self.deleted = Counter(
            "gridwatch_retention_deleted", "Deleted by retention.", ["what"], registry=r
        )
        self.deleted_bytes = Counter(
            "gridwatch_retention_deleted_bytes", "Evidence bytes deleted by retention.", registry=r
        )
        self.runs = Counter("gridwatch_retention_runs", "Retention runs finished.", registry=r)
        self.failures = Counter(
            "gridwatch_retention_failures", "Retention runs that failed.", registry=r
        )
        self.last_run = Gauge(
            "gridwatch_retention_last_run_timestamp_seconds",
            "When the last retention run finished.",
            registry=r,
        )
        registry.register(self)

    def count(self, report: RetentionReport) -> None:
        """Add a finished (not dry) run's deletions to the counters."""
        self.deleted.labels(what="clips").inc(report.clips.files)
        self.deleted.labels(what="images").inc(report.images.files)
        self.deleted.labels(what="rows").inc(report.rows.count)
        self.deleted_bytes.inc(report.clips.bytes + report.images.bytes)
        self.runs.inc()
        self.last_run.set(time.time())

    def collect(self) -> Iterator[Metric]:
        try:
            usage = shutil.disk_usage(self.evidence_dir)
        except OSError:
            usage = None
        if usage is not None:
            yield GaugeMetricFamily(
                "gridwatch_evidence_volume_free_bytes",
                "Free bytes on the evidence volume.",
                value=usage.free,
            )
            yield GaugeMetricFamily(
                "gridwatch_evidence_volume_size_bytes",
                "Size of the evidence volume.",
                value=usage.total,
            )
        stats = self.stats
        if stats is None:
            return
        family = GaugeMetricFamily(
            "gridwatch_evidence_bytes", "Evidence bytes on disk, as counted.", labels=["kind"]
        )
        for kind, value in stats["evidence_bytes"].items():
            family.add_metric([kind], value)
        yield family
        yield GaugeMetricFamily(
            "gridwatch_evidence_files", "Evidence files on disk.", value=stats["evidence_files"]
        )
        rows = GaugeMetricFamily("gridwatch_table_rows", "Rows per table.", labels=["table"])
        for name, value in stats["rows"].items():
            rows.add_metric([name], value)
        yield rows
        yield GaugeMetricFamily(
            "gridwatch_storage_stats_age_seconds",
            "Seconds since the storage figures were counted.",
            value=time.time() - stats["counted_at"],
        )


class Upkeep:
    """The thread that runs retention and refreshes the storage figures."""

    def __init__(
        self,
        engine: Engine,
        evidence_dir: Path,
        config: RetentionConfig,
        metrics: StorageMetrics,
    ) -> None:
        self.engine = engine
        self.evidence_dir = evidence_dir
        self.config = config
        self.metrics = metrics
        self.retention = Retention(engine, evidence_dir, config)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_error = ""
        self.last_report: RetentionReport | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="upkeep", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        cfg = self.config
        next_retention = time.monotonic() + min(60.0, cfg.every_s) if cfg.every_s else None
        next_stats = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            if next_retention is not None and now >= next_retention:
                next_retention = now + cfg.every_s
                self._guarded("retention", self.run_once)
                next_stats = now  # count again after deleting
            if now >= next_stats:
                next_stats = now + (cfg.stats_every_s or cfg.every_s or 3600.0)
                self._guarded("storage figures", self.count)
            waits = [t for t in (next_retention, next_stats) if t is not None]
            self._stop.wait(max(0.5, min(waits) - time.monotonic()))

    def run_once(self) -> RetentionReport:
        report = self.retention.run()
        self.metrics.count(report)
        self.last_report = report
        if report.clips.count or report.images.count or report.rows.count:
            log.info(
                "retention: %d clips, images of %d events, %d rows (%.1f MB) in %.1f s; "
                "%d events past a cutoff kept for their open cases",
                report.clips.count,
                report.images.count,
                report.rows.count,
                (report.clips.bytes + report.images.bytes) / 1e6,
                report.seconds,
                report.kept.count,
            )
        return report

    def count(self) -> None:
        self.metrics.stats = storage_stats(self.engine)

    def _guarded(self, what: str, step: Any) -> None:
        try:
            step()
        except (SQLAlchemyError, OSError) as exc:
            if what == "retention":
                self.metrics.failures.inc()
            message = f"{what} failed (will retry): {exc}"
            if message != self._last_error:
                self._last_error = message
                log.error("%s", message)
