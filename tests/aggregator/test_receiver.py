"""The ROUTER receiver on real loopback sockets: validation, counting, batching, stop."""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from pathlib import Path

import pytest
import zmq

from aggregator.receiver import is_loopback, peer_name
from gridwatch.protocol import (
    MAX_ENVELOPE_BYTES,
    MAX_FRAME_BYTES,
    AckPayload,
    MessageType,
    encode,
)
from tests.aggregator.delivery_helpers import (
    FakeStore,
    ServiceThread,
    free_port,
    make_event,
    publisher,
    wait_for,
)

CAMS = {"cam-1", "cam-2"}


def raw_dealer(endpoint: str, identity: bytes | None = None) -> zmq.Socket:
    sock: zmq.Socket = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    if identity is not None:
        sock.setsockopt(zmq.IDENTITY, identity)
    sock.connect(endpoint)
    return sock


def good(node: str = "bad-peer", camera: str = "cam-1") -> list[bytes]:
    return encode(MessageType.EVENT, make_event(camera), node=node)


def tamper(**changes: object) -> list[bytes]:
    frames = good()
    env = json.loads(frames[0])
    env.update(changes)
    return [json.dumps(env).encode()]


def test_agent_events_are_committed_then_acked_and_heartbeats_recorded(tmp_path: Path) -> None:
    store = FakeStore(CAMS)
    with ServiceThread(store, tmp_path) as svc:
        pub = publisher(tmp_path, "node-1", svc.endpoint)
        events = [make_event("cam-1") for _ in range(50)]
        for ev in events:
            pub.submit(ev)
        assert wait_for(lambda: pub.outbox.count() == 0)
        assert wait_for(lambda: len(store.heartbeats) > 0)
        pub.stop()
    assert set(store.stored) == {e.event_id for e in events}
    assert all(e.node_id == "node-1" for e in store.stored.values())
    assert svc.metrics.value("gridwatch_events_acked") >= 50
    assert svc.exit_code == 0


def test_unknown_camera_is_rejected_for_good_and_the_agent_forgets_it(tmp_path: Path) -> None:
    store = FakeStore(CAMS)
    with ServiceThread(store, tmp_path) as svc:
        pub = publisher(tmp_path, "node-1", svc.endpoint)
        pub.submit(make_event("cam-unknown"))
        pub.submit(make_event("cam-2"))
        assert wait_for(lambda: pub.outbox.count() == 0)
        pub.stop()
    assert (pub.acked, pub.rejected, len(store.stored)) == (1, 1, 1)
    assert svc.metrics.value("gridwatch_events_rejected", reason="unknown_camera") == 1


def test_garbage_is_counted_by_reason_logged_once_and_service_keeps_serving(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="aggregator.receiver")
    store = FakeStore(CAMS)
    port = free_port()
    with ServiceThread(store, tmp_path) as svc:
        svc.service.metrics.serve(port, addr="127.0.0.1")
        bad = raw_dealer(svc.endpoint, b"bad-peer")
        cases: list[tuple[str, list[bytes]]] = [
            ("not_json", [os.urandom(64)]),
            ("not_json", [os.urandom(64)]),  # same peer, same reason: counted, not logged
            ("not_json", [good()[0][:40]]),  # truncated
            ("bad_version", tamper(v=99)),
            ("bad_type", tamper(type="launch")),
            ("bad_type", encode(MessageType.ACK, AckPayload(), node="bad-peer")),
            ("schema", tamper(payload={"event_id": "x"})),
            ("too_large", [b" " * (MAX_ENVELOPE_BYTES + 1)]),
            ("blob_mismatch", [good()[0], b"surprise"]),
            ("node_mismatch", good(node="someone-else")),
        ]
        for _reason, frames in cases:
            bad.send_multipart(frames)
        bad.send_multipart(good(camera="cam-404"))
        expected = {r: sum(1 for c, _ in cases if c == r) for r, _ in cases}
        assert wait_for(
            lambda: all(
                svc.metrics.value("gridwatch_messages_malformed", reason=r) == n
                for r, n in expected.items()
            )
        ), {r: svc.metrics.value("gridwatch_messages_malformed", reason=r) for r in expected}
        # A frame over ZMQ_MAXMSGSIZE never reaches us: libzmq drops that peer.
        huge = raw_dealer(svc.endpoint, b"huge-peer")
        huge.send_multipart([b"x" * (MAX_FRAME_BYTES + 1)])
        assert wait_for(
            lambda: svc.metrics.value("gridwatch_events_rejected", reason="unknown_camera") == 1
        )
        pub = publisher(tmp_path, "node-1", svc.endpoint)
        ev = make_event("cam-1")
        pub.submit(ev)
        assert wait_for(lambda: pub.outbox.count() == 0)
        pub.stop()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            scraped = resp.read().decode()
        bad.close()
        huge.close()
    assert ev.event_id in store.stored and len(store.stored) == 1
    assert 'gridwatch_messages_malformed_total{reason="not_json"} 3.0' in scraped
    assert 'gridwatch_events_rejected_total{reason="unknown_camera"} 1.0' in scraped
    logged = [r.getMessage() for r in caplog.records if "bad-peer" in r.getMessage()]
    assert len(logged) == len(expected) + 1  # once per (peer, reason), incl. unknown_camera
    assert svc.exit_code == 0


def test_graceful_stop_commits_and_acks_the_open_batch(tmp_path: Path) -> None:
    store = FakeStore(CAMS)
    svc = ServiceThread(store, tmp_path, commit_max_wait_ms=10_000, commit_batch=10_000)
    with svc:
        pub = publisher(tmp_path, "node-1", svc.endpoint, resend_after_s=60)
        for _ in range(20):
            pub.submit(make_event("cam-1"))
        assert wait_for(lambda: svc.metrics.value("gridwatch_events_received") == 20)
        assert store.stored == {}  # still in the open batch
        assert svc.stop() == 0
    assert len(store.stored) == 20 and store.commits == [20]
    assert wait_for(lambda: pub.outbox.count() == 0)
    pub.stop()


def test_remote_bind_without_keys_is_refused(tmp_path: Path) -> None:
    svc = ServiceThread(FakeStore(CAMS), tmp_path, bind=f"tcp://0.0.0.0:{free_port()}")
    with svc:
        svc.thread.join(10)
    assert svc.exit_code == 1
    assert "without CURVE keys" in str(svc.service.first_error)


@pytest.mark.parametrize(
    ("endpoint", "local"),
    [
        ("tcp://127.0.0.1:5555", True),
        ("tcp://localhost:1", True),
        ("tcp://[::1]:1", True),
        ("ipc:///tmp/x", True),
        ("tcp://0.0.0.0:5555", False),
        ("tcp://*:5555", False),
        ("tcp://10.0.0.5:5555", False),
    ],
)
def test_is_loopback(endpoint: str, local: bool) -> None:
    assert is_loopback(endpoint) is local


def test_peer_name_is_printable() -> None:
    assert peer_name(b"node-1") == "node-1"
    assert peer_name(b"\x00\x80\x01") == "0x008001"
