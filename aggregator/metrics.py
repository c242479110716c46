"""Prometheus metrics of the aggregator, on their own registry (one per service).

A registry per :class:`AggregatorMetrics` (not the global one) lets tests run many
services in one process. Gauges about cases and cameras are read when Prometheus
scrapes, from a :class:`GaugeSource` the store provides (``EventStore.gauges()``).

>>> m = AggregatorMetrics()
>>> m.malformed.labels(reason="not_json").inc()
>>> m.value("gridwatch_messages_malformed_total", reason="not_json")
1.0
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer
from typing import Any, Protocol, runtime_checkable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import MetricsHandler
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)


# store key -> (metric name, label name, help)
GAUGE_FAMILIES: dict[str, tuple[str, str, str]] = {
    "cases_by_state": ("gridwatch_cases", "state", "Cases by workflow state."),
    "cameras_by_state": ("gridwatch_cameras", "state", "Cameras by reported state."),
    "cases_overdue": ("gridwatch_cases_overdue", "stage", "Cases past their deadline."),
}


@runtime_checkable
class GaugeSource(Protocol):
    """The hook the case store implements to feed the case and camera gauges.

    ``gauges()`` returns ``{"cases_by_state": {"dispatched": 3.0, ...},
    "cameras_by_state": {"online": 120.0, ...}, ...}``; each key becomes one gauge
    family (see :data:`GAUGE_FAMILIES`; other keys get ``gridwatch_<key>{key=...}``).
    """

    def gauges(self) -> dict[str, dict[str, float]]: ...


class _SnapshotCollector(Collector):
    def __init__(self) -> None:
        self.source: GaugeSource | None = None

    def collect(self) -> Iterator[Metric]:
        if self.source is None:
            return
        try:
            snapshot = self.source.gauges()
        except Exception as exc:  # a scrape must never take the service down
            log.warning("gauge snapshot failed: %s", exc)
            return
        for key, values in sorted(snapshot.items()):
            name, label, doc = GAUGE_FAMILIES.get(key, (f"gridwatch_{key}", "key", key))
            family = GaugeMetricFamily(name, doc, labels=[label])
            for label_value, value in sorted(values.items()):
                family.add_metric([label_value], value)
            yield family


HealthCheck = Callable[[], tuple[bool, dict[str, Any]]]
HEALTH_PATH = "/healthz"


def serve_with_health(
    port: int, addr: str, registry: CollectorRegistry, health: HealthCheck
) -> ThreadingHTTPServer:
    """The metrics server with ``/healthz`` beside ``/metrics`` (a daemon thread).

    ``/healthz`` says whether the aggregator can store what it receives. It is a status
    for people and alerts, not a liveness probe: a restart frees no disk.
    """

    class Handler(MetricsHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] != HEALTH_PATH:
                super().do_GET()
                return
            ok, body = health()
            data = (json.dumps(body, ensure_ascii=False) + "\n").encode()
            self.send_response(200 if ok else 503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    Handler.registry = registry
    server = ThreadingHTTPServer((addr, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server


class AggregatorMetrics:
    """Counters and histograms of the receiver and its commits."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.received = Counter(
            "gridwatch_events_received", "Valid event messages received.", registry=r
        )
        self.acked = Counter(
            "gridwatch_events_acked", "Events committed and acked (incl. duplicates).", registry=r
        )
        self.rejected = Counter(
            "gridwatch_events_rejected", "Events rejected for good.", ["reason"], registry=r
        )
        self.malformed = Counter(
            "gridwatch_messages_malformed", "Messages dropped as malformed.", ["reason"], registry=r
        )
        self.heartbeats = Counter("gridwatch_heartbeats", "Heartbeats received.", registry=r)
        self.nodes_alive = Gauge(
            "gridwatch_nodes_alive",
            "Edge nodes heard within aggregator.failover.node_timeout_s (failover view).",
            registry=r,
        )
        self.commit_failures = Counter(
            "gridwatch_commit_failures", "Batches whose commit failed (not acked).", registry=r
        )
        self.store_errors = Counter(
            "gridwatch_store_errors",
            "Database errors outside commits (camera lookups, heartbeats, upkeep).",
            registry=r,
        )
        self.batch_size = Histogram(
            "gridwatch_commit_batch_events",
            "Events per committed batch.",
            buckets=(1, 5, 10, 50, 100, 500, 1000, 5000, 10000),
            registry=r,
        )
        self.commit_seconds = Histogram(
            "gridwatch_commit_seconds",
            "Time to commit one batch.",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
            registry=r,
        )
        self._gauges = _SnapshotCollector()
        r.register(self._gauges)

    def set_gauge_source(self, source: GaugeSource | None) -> None:
        """Feed the case/camera gauges from ``source`` (the hook for the case store)."""
        self._gauges.source = source

    def serve(self, port: int, addr: str = "0.0.0.0", health: HealthCheck | None = None) -> None:
        """Expose ``/metrics`` on ``port`` (0: do nothing), and ``/healthz`` when ``health``
        is given: 200 or 503 with a JSON body (aggregator/storage.py's state)."""
        if not port:
            return
        if health is None:
            start_http_server(port, addr=addr, registry=self.registry)
        else:
            serve_with_health(port, addr, self.registry, health)
        log.info("metrics on http://%s:%d/metrics", addr, port)

    def value(self, name: str, **labels: str) -> float:
        """A sample's current value (0.0 if absent): for tests and the CLI."""
        for suffix in ("", "_total"):
            got = self.registry.get_sample_value(name + suffix, labels or None)
            if got is not None:
                return got
        return 0.0
