"""At-least-once delivery with the real store on SQLite and PostgreSQL: nothing lost,
nothing stored twice, whichever side starts or restarts first."""

from __future__ import annotations

from pathlib import Path

from edge_agent.outbox import Outbox
from edge_agent.publisher import Publisher
from tests.aggregator.delivery_helpers import (
    RealServiceThread,
    delivery,
    import_cameras,
    loopback,
    make_event,
    publisher,
    stored_event_ids,
    wait_for,
)


def test_events_made_while_no_aggregator_listens_arrive_once_it_starts(
    db_url: str, tmp_path: Path
) -> None:
    cams = import_cameras(db_url, tmp_path)
    endpoint = loopback()
    pub = publisher(tmp_path, "node-1", endpoint, resend_after_s=0.5)
    events = [make_event(cams[i % len(cams)], evidence=["snapshot.jpg"]) for i in range(60)]
    for ev in events:
        pub.submit(ev, {"snapshot.jpg": b"\xff\xd8" + ev.event_id.encode()})
    assert not wait_for(lambda: pub.outbox.count() < 60, timeout=1.0)  # nothing to ack yet
    with RealServiceThread(db_url, tmp_path, bind=endpoint) as svc:
        assert wait_for(lambda: pub.outbox.count() == 0, timeout=30)
        pub.stop()
        cases = [
            sample.value
            for family in svc.metrics.registry.collect()
            if family.name == "gridwatch_cases"
            for sample in family.samples
        ]
        assert sum(cases) >= 1  # the store's gauges reach the metrics registry
    assert svc.exit_code == 0
    assert svc.metrics.value("gridwatch_events_acked") == 60
    stored = stored_event_ids(db_url)
    assert sorted(stored) == sorted(e.event_id for e in events)
    assert len(list((tmp_path / "evidence").rglob("snapshot.jpg"))) == 60


def test_a_restarted_agent_delivers_the_rest_and_nothing_twice(db_url: str, tmp_path: Path) -> None:
    cams = import_cameras(db_url, tmp_path)
    with RealServiceThread(db_url, tmp_path) as svc:
        first = publisher(tmp_path, "node-1", svc.endpoint, resend_after_s=0.5)
        events = [make_event(cams[i % len(cams)]) for i in range(200)]
        for ev in events:
            first.submit(ev)
        first.stop()  # gone mid-flight: some events sent, some acked, some neither
        left = first.outbox.count()
        first.outbox.close()
        second = Publisher(
            "node-1",
            delivery(svc.endpoint, resend_after_s=0.5),
            Outbox(tmp_path / "outbox-node-1.db"),
        )
        second.start()
        assert wait_for(lambda: second.outbox.count() == 0, timeout=30), left
        second.stop()
    stored = stored_event_ids(db_url)
    assert len(stored) == len(set(stored)) == 200
    assert set(stored) == {e.event_id for e in events}
