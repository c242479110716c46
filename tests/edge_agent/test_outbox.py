"""The durable outbox: put before send, resend timing, removal on ack, restart safety."""

from __future__ import annotations

import threading
from pathlib import Path

from edge_agent.config import DeliveryConfig
from edge_agent.outbox import Outbox


def ids(n: int) -> list[str]:
    return [f"{i:032x}" for i in range(n)]


def test_put_is_idempotent_and_keeps_blobs_in_order(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    blobs = {"snapshot.jpg": b"\xff\xd8", "clip.mp4": b"\x00" * 10}
    box.put("a" * 32, '{"x": 1}', blobs)
    box.put("a" * 32, '{"x": 2}', {})
    (item,) = box.due(now=0, resend_after_s=5, limit=10)
    assert (item.payload, list(item.blobs.items())) == ('{"x": 1}', list(blobs.items()))
    assert box.count() == 1


def test_due_respects_order_limit_and_resend_delay(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    for eid in ids(5):
        box.put(eid, "{}")
    first = box.due(now=100, resend_after_s=5, limit=3)
    assert [i.event_id for i in first] == ids(3)
    box.mark_sent([i.event_id for i in first], now=100)
    assert [i.event_id for i in box.due(now=101, resend_after_s=5, limit=10)] == ids(5)[3:]
    assert box.in_flight(now=101, resend_after_s=5) == 3
    assert [i.event_id for i in box.due(now=106, resend_after_s=5, limit=10)] == ids(5)
    assert box.due(now=106, resend_after_s=5, limit=0) == []


def test_remove_deletes_rows_and_blobs(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    box.put("a" * 32, "{}", {"b": b"1"})
    assert box.remove(["a" * 32, "f" * 32]) == 1
    assert box.count() == 0
    assert box._db.execute("select count(*) from outbox_blobs").fetchone()[0] == 0


def test_reopen_keeps_events_and_resends_everything(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    for eid in ids(3):
        box.put(eid, "{}")
    box.mark_sent(ids(3), now=100)
    box.close()
    again = Outbox(tmp_path / "o.db")
    assert [i.event_id for i in again.due(now=100, resend_after_s=5, limit=10)] == ids(3)


def test_concurrent_puts_from_threads(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")

    def put_many(k: int) -> None:
        for i in range(50):
            box.put(f"{k:04x}{i:028x}", "{}")

    threads = [threading.Thread(target=put_many, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert box.count() == 200


def test_for_node_uses_the_configured_path_or_the_data_dir(tmp_path: Path) -> None:
    default = Outbox.for_node(DeliveryConfig(outbox_sync="normal"), tmp_path, "node-7")
    assert default.path == str(tmp_path / "outbox-node-7.db")
    assert default._db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    chosen = Outbox.for_node(DeliveryConfig(outbox=tmp_path / "x" / "o.db"), tmp_path, "n")
    assert chosen.path == str(tmp_path / "x" / "o.db")
    assert chosen._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
