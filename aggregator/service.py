"""The aggregator process: receiver + store + metrics under one :class:`Service` base.

``AggregatorService(...).run()`` serves until SIGTERM/SIGINT, then stops receiving,
commits and acks the open batch and exits 0; any fatal error (bad config, unsafe bind,
a bug in the store) is logged once and the exit code is 1. A full disk is not fatal: it
is the ``storage_full`` state (aggregator/storage.py), on ``/healthz`` beside
``/metrics`` and on the web pages. Retention and the storage gauges run in an upkeep
thread (aggregator/upkeep.py).

>>> svc = AggregatorService(AggregatorConfig(), db_url="sqlite:///data/gridwatch.db",
...                         evidence_dir=Path("data/evidence"))  # doctest: +SKIP
>>> raise SystemExit(svc.run())  # doctest: +SKIP
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aggregator.config import AggregatorConfig
from aggregator.metrics import AggregatorMetrics, GaugeSource
from aggregator.receiver import EventFactory, EventSink, Receiver
from aggregator.storage import StorageHealth
from aggregator.upkeep import StorageMetrics, Upkeep
from gridwatch.process import Service
from gridwatch.secrets import mask_url

if TYPE_CHECKING:
    import uvicorn

    from gridwatch.config import Settings


class AggregatorService(Service):
    """The long-running aggregator; ``store`` and ``event_factory`` are for tests.

    With ``web_port`` it also serves the web UI/API (aggregator/web) from a uvicorn
    thread of the same process; a web server that fails (e.g. the port is taken) is a
    worker error like any other: the service stops and exits 1.
    """

    def __init__(
        self,
        config: AggregatorConfig,
        *,
        db_url: str,
        evidence_dir: Path,
        store: EventSink | None = None,
        event_factory: EventFactory | None = None,
        metrics: AggregatorMetrics | None = None,
        web_port: int | None = None,
        web_host: str = "127.0.0.1",
        settings: Settings | None = None,
    ) -> None:
        super().__init__("gridwatch.aggregator")
        self.config = config
        self.db_url = db_url
        self.evidence_dir = evidence_dir
        self.store = store
        self.event_factory = event_factory
        self.metrics = metrics or AggregatorMetrics()
        self.receiver: Receiver | None = None
        self.web_port = web_port
        self.web_host = web_host
        self.settings = settings
        self.web_server: uvicorn.Server | None = None
        self._web_thread: threading.Thread | None = None
        self.storage = StorageHealth(config.storage.retry_s, registry=self.metrics.registry)
        self.upkeep: Upkeep | None = None

    def _open_store(self) -> EventSink:
        from aggregator.event_types import EventTypes
        from aggregator.store import EventStore
        from gridwatch.db import open_db

        engine = open_db(self.db_url)
        event_types = EventTypes.load(self.config.event_types_file)
        return EventStore(engine, self.evidence_dir, self.config, event_types, self.storage)

    def health(self) -> tuple[bool, dict[str, Any]]:
        """What ``/healthz`` answers: can the aggregator store what it receives?"""
        state = self.storage.snapshot()
        return state.ok, {"status": state.state, "storage": state.as_dict()}

    def _start_upkeep(self, store: EventSink) -> None:
        from aggregator.store import EventStore

        if not isinstance(store, EventStore):
            return  # a test's fake store: no database to keep
        metrics = StorageMetrics(self.metrics.registry, self.evidence_dir)
        self.upkeep = Upkeep(store.engine, self.evidence_dir, self.config.retention, metrics)
        self.upkeep.start()

    def serve(self) -> None:
        self.log.info(
            "aggregator starting: db %s, evidence in %s", mask_url(self.db_url), self.evidence_dir
        )
        store = self.store if self.store is not None else self._open_store()
        if isinstance(store, GaugeSource):
            self.metrics.set_gauge_source(store)
        else:
            self.log.info("store has no gauges(): case/camera gauges are off")
        self.metrics.serve(self.config.metrics_port, health=self.health)
        self._start_web()
        self._start_upkeep(store)
        receiver = Receiver(
            self.config.receiver,
            store,
            self.metrics,
            event_factory=self.event_factory,
            failover=self.config.failover,
            storage=self.storage,
        )
        self.receiver = receiver
        try:
            receiver.bind()
            receiver.serve(self.stopping)
        finally:
            receiver.close()
            self._stop_web()
            if self.upkeep is not None:
                self.upkeep.stop()

    def _start_web(self) -> None:
        if not self.web_port:
            return
        import uvicorn

        from aggregator.web.app import create_app
        from gridwatch.config import Settings

        settings = self.settings or Settings(aggregator=self.config)
        app = create_app(
            settings, db_url=self.db_url, evidence_dir=self.evidence_dir, storage=self.storage
        )
        config = uvicorn.Config(
            app, host=self.web_host, port=self.web_port, log_level="warning", access_log=False
        )
        self.web_server = uvicorn.Server(config)
        self._web_thread = threading.Thread(target=self._run_web, name="web", daemon=True)
        self._web_thread.start()
        self.log.info("web UI on http://%s:%d", self.web_host, self.web_port)

    def _run_web(self) -> None:
        assert self.web_server is not None
        try:
            self.web_server.run()
        except BaseException as exc:  # uvicorn exits (SystemExit) when it cannot bind
            self.record_error(exc, "web server")
            return
        if not (self.stopping.is_set() or self.web_server.should_exit):
            self.record_error(RuntimeError("web server stopped on its own"), "web server")

    def _stop_web(self) -> None:
        if self.web_server is not None and self._web_thread is not None:
            self.web_server.should_exit = True
            self._web_thread.join(timeout=10)
