"""The aggregator process: receiver + store + metrics under one :class:`Service` base.

``AggregatorService(...).run()`` serves until SIGTERM/SIGINT, then stops receiving,
commits and acks the open batch and exits 0; any fatal error (bad config, unsafe bind,
a bug in the store) is logged once and the exit code is 1.

>>> svc = AggregatorService(AggregatorConfig(), db_url="sqlite:///data/gridwatch.db",
...                         evidence_dir=Path("data/evidence"))  # doctest: +SKIP
>>> raise SystemExit(svc.run())  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

from aggregator.config import AggregatorConfig
from aggregator.metrics import AggregatorMetrics, GaugeSource
from aggregator.receiver import EventFactory, EventSink, Receiver
from gridwatch.process import Service
from gridwatch.secrets import mask_url


class AggregatorService(Service):
    """The long-running aggregator; ``store`` and ``event_factory`` are for tests."""

    def __init__(
        self,
        config: AggregatorConfig,
        *,
        db_url: str,
        evidence_dir: Path,
        store: EventSink | None = None,
        event_factory: EventFactory | None = None,
        metrics: AggregatorMetrics | None = None,
    ) -> None:
        super().__init__("gridwatch.aggregator")
        self.config = config
        self.db_url = db_url
        self.evidence_dir = evidence_dir
        self.store = store
        self.event_factory = event_factory
        self.metrics = metrics or AggregatorMetrics()
        self.receiver: Receiver | None = None

    def _open_store(self) -> EventSink:
        from aggregator.event_types import EventTypes
        from aggregator.store import EventStore
        from gridwatch.db import open_db

        engine = open_db(self.db_url)
        event_types = EventTypes.load(self.config.event_types_file)
        return EventStore(engine, self.evidence_dir, self.config, event_types)

    def serve(self) -> None:
        self.log.info(
            "aggregator starting: db %s, evidence in %s", mask_url(self.db_url), self.evidence_dir
        )
        store = self.store if self.store is not None else self._open_store()
        if isinstance(store, GaugeSource):
            self.metrics.set_gauge_source(store)
        else:
            self.log.info("store has no gauges(): case/camera gauges are off")
        self.metrics.serve(self.config.metrics_port)
        receiver = Receiver(
            self.config.receiver, store, self.metrics, event_factory=self.event_factory
        )
        self.receiver = receiver
        try:
            receiver.bind()
            receiver.serve(self.stopping)
        finally:
            receiver.close()
