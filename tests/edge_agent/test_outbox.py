"""The durable outbox: put before send, resend timing, removal on ack, restart safety."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest

from edge_agent.config import DeliveryConfig
from edge_agent.outbox import CLIP, IMAGE, Outbox, OutboxUsage
from gridwatch.protocol import HeartbeatPayload


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


# ---------------------------------------------------------------- bounded outbox


def _event(i: int, camera: str = "cam-1") -> tuple[str, str, dict[str, bytes]]:
    """An event with a 100 kB clip and a 20 kB snapshot, as the analyzer makes them."""
    event_id = f"{i:032x}"
    payload = json.dumps(
        {"event_id": event_id, "camera_id": camera, "evidence": ["snapshot.jpg", "clip.mp4"]}
    )
    return event_id, payload, {"snapshot.jpg": b"\xff" * 20_000, "clip.mp4": b"\x00" * 100_000}


def _file_bytes(box: Outbox) -> int:
    return int(box._db.execute("SELECT sum(length(data)) FROM outbox_blobs").fetchone()[0] or 0)


def test_near_its_bound_it_drops_clips_then_images_never_an_event(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", max_bytes=1_000_000, drop_clips_at=0.8, drop_images_at=0.95)
    for i in range(7):  # 7 × 120 kB: over 80 % of 1 MB, the oldest clips go
        box.put(*_event(i, camera=f"cam-{i % 2}"))
    kinds = [sorted(item.blobs) for item in box.due(now=0, resend_after_s=5, limit=100)]
    assert kinds[0] == ["snapshot.jpg"] and kinds[-1] == ["clip.mp4", "snapshot.jpg"]
    assert box.usage().dropped_total(IMAGE) == 0 and box.usage().bytes <= 800_000
    for i in range(7, 60):  # 60 × 120 kB = 7.2 MB offered: images go too, oldest first
        box.put(*_event(i, camera=f"cam-{i % 2}"))
    assert box.count() == 60  # every event is kept
    usage = box.usage()
    assert usage.bytes <= 950_000 and usage.bytes == _payload_and_blob_bytes(box)
    items = box.due(now=0, resend_after_s=5, limit=100)
    kinds = [sorted(item.blobs) for item in items]
    assert kinds[0] == [] and kinds[-1] == ["snapshot.jpg"]  # no clip is left: clips go first
    # each payload names only the evidence it still carries (valid on the wire)
    for item in items:
        assert sorted(json.loads(item.payload)["evidence"]) == sorted(item.blobs)
    assert usage.dropped_total(CLIP) == 60
    assert usage.dropped_total(IMAGE) == sum("snapshot.jpg" not in k for k in kinds) > 0
    assert set(usage.dropped) == {"cam-0", "cam-1"}


def _payload_and_blob_bytes(box: Outbox) -> int:
    payloads = box._db.execute("SELECT sum(length(payload)) FROM outbox").fetchone()[0]
    return int(payloads) + _file_bytes(box)


def test_only_events_left_it_grows_past_the_bound_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    box = Outbox(tmp_path / "o.db", max_bytes=2**20)
    big = "x" * 100_000
    for i in range(15):
        box.put(f"{i:032x}", json.dumps({"camera_id": "c", "evidence": [], "pad": big}))
    assert box.count() == 15 and box.usage().bytes > 2**20
    assert "OUTBOX OVER ITS LIMIT" in caplog.text


def test_drop_counts_and_bytes_survive_a_restart_and_acks_free_bytes(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", max_bytes=500_000)
    for i in range(10):
        box.put(*_event(i))
    before = box.usage()
    box.close()
    again = Outbox(tmp_path / "o.db", max_bytes=500_000)
    after = again.usage()
    assert (after.bytes, after.dropped) == (before.bytes, before.dropped)
    assert after.dropped_total(CLIP) > 0
    again.remove([f"{i:032x}" for i in range(10)])
    assert again.usage().bytes == 0 and again.usage().dropped == before.dropped


def test_an_outbox_file_from_before_the_bound_gets_its_byte_counts(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL"
        " UNIQUE, payload TEXT NOT NULL, created_at REAL NOT NULL, sent_at REAL,"
        " attempts INTEGER NOT NULL DEFAULT 0);"
        "CREATE TABLE outbox_blobs (event_id TEXT NOT NULL, idx INTEGER NOT NULL,"
        " name TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY (event_id, idx));"
        "INSERT INTO outbox (event_id, payload, created_at) VALUES ('a', '{}', 0);"
        "INSERT INTO outbox_blobs VALUES ('a', 0, 'clip.mp4', zeroblob(1000));"
    )
    old.commit()
    old.close()
    assert Outbox(path).usage().bytes == 1002


def test_the_heartbeat_says_what_was_dropped(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", max_bytes=300_000)
    for i in range(6):
        box.put(*_event(i, camera="31011700001320000001"))
    status = box.usage().to_status()
    beat = HeartbeatPayload(node_id="n1", sent_at=1.0, outbox=status)
    again = HeartbeatPayload.model_validate_json(beat.model_dump_json())
    assert again.outbox is not None and again.outbox.max_bytes == 300_000
    assert again.outbox.dropped.clips > 0
    assert again.outbox.dropped_by_camera["31011700001320000001"].clips == status.dropped.clips
    # a heartbeat without the field (an agent of before) still reads
    assert HeartbeatPayload.model_validate({"node_id": "n1", "sent_at": 1.0}).outbox is None


def test_the_config_keeps_clips_before_images() -> None:
    with pytest.raises(ValueError, match="clips go before images"):
        DeliveryConfig(outbox_drop_clips_at=0.9, outbox_drop_images_at=0.5)
    config = DeliveryConfig(outbox_max_bytes=2**21)
    assert config.outbox_max_bytes == 2**21


def test_the_heartbeat_lists_the_cameras_with_most_drops_and_counts_them_all() -> None:
    dropped = {f"cam-{i:04d}": {CLIP: 1} for i in range(600)}
    dropped["cam-0599"] = {CLIP: 9, IMAGE: 2}
    status = OutboxUsage(events=1, bytes=1, max_bytes=2**20, dropped=dropped).to_status()
    assert len(status.dropped_by_camera) == 500
    assert next(iter(status.dropped_by_camera)) == "cam-0599"  # most drops first
    assert (status.dropped.clips, status.dropped.images) == (599 + 9, 2)
