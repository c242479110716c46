"""Failover on the aggregator side: who is alive, told to the agents in heartbeat replies.

The table logic is checked directly; the replies on real loopback sockets with real
publishers (edge_agent/publisher.py), including an agent of protocol version 1 that must
keep working and never be sent a message type it does not know.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import zmq

from aggregator.config import FailoverConfig
from aggregator.liveness import NodeLiveness
from gridwatch.protocol import (
    CameraStatus,
    HeartbeatPayload,
    MessageType,
    decode,
    encode,
)
from tests.aggregator.delivery_helpers import (
    FakeStore,
    ServiceThread,
    make_event,
    publisher,
    wait_for,
)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (5.0, None),  # warming up: started at 0, T = 10
        (9.99, None),
        (10.0, ["a", "b", "c"]),  # every node heard within T
        (13.0, ["b", "c"]),  # a last heard at 2.5: 10.5 s ago
        (20.0, ["c"]),  # b at 9.0 is 11 s old, c at 12.0 is 8 s old
        (30.0, []),
    ],
)
def test_alive_nodes_are_those_heard_within_the_timeout(
    now: float, expected: list[str] | None
) -> None:
    live = NodeLiveness(timeout_s=10.0, started_at=0.0)
    for node, at in [("a", 1.0), ("b", 9.0), ("a", 2.5), ("c", 12.0), ("a", 2.0)]:
        live.heard(node, at)  # out of order: the latest time wins
    assert live.alive(now) == expected


def test_changes_are_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    live = NodeLiveness(timeout_s=10.0, started_at=0.0)
    live.heard("a", 9.0)
    live.heard("b", 9.0)
    with caplog.at_level(logging.INFO, logger="aggregator.liveness"):
        live.report_changes(10.0)  # first view
        live.report_changes(15.0)  # nothing changed
        live.report_changes(20.0)  # both silent for 11 s
        live.heard("b", 21.0)
        live.report_changes(21.0)
        live.report_changes(22.0)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 4, lines
    assert "2 node(s) alive" in lines[0]
    assert [ln.split()[1] for ln in lines[1:3]] == ["a", "b"] and "silent" in lines[1]
    assert lines[3].startswith("node b is heard again")


def beat(node: str) -> HeartbeatPayload:
    return HeartbeatPayload(
        node_id=node,
        sent_at=0.0,
        cameras=[CameraStatus(camera_id="cam-1", state="online")],
    )


def test_agents_are_told_who_is_alive_and_a_silent_node_drops_out(tmp_path: Path) -> None:
    failover = FailoverConfig(node_timeout_s=1.0)
    with ServiceThread(FakeStore({"cam-1"}), tmp_path, failover=failover) as svc:
        a = publisher(tmp_path, "node-a", svc.endpoint, heartbeat_s=0.1)
        b = publisher(tmp_path, "node-b", svc.endpoint, heartbeat_s=0.1)
        try:
            # After the first T (warm-up) both are heard, and each one is told so.
            assert wait_for(lambda: a.alive_nodes == ["node-a", "node-b"], timeout=10)
            assert wait_for(lambda: b.alive_nodes == ["node-a", "node-b"], timeout=5)
            b.stop()  # node-b stops heartbeating ...
            # ... and once T has passed without it, node-a hears it is gone.
            assert wait_for(lambda: a.alive_nodes == ["node-a"], timeout=5)
            assert wait_for(lambda: svc.metrics.value("gridwatch_nodes_alive") == 1.0, timeout=3)
            b = publisher(tmp_path, "node-b", svc.endpoint, heartbeat_s=0.1)  # it returns
            assert wait_for(lambda: a.alive_nodes == ["node-a", "node-b"], timeout=5)
        finally:
            a.stop()
            b.stop()


def test_a_version_1_agent_gets_acks_in_version_1_and_no_heartbeat_reply(
    tmp_path: Path,
) -> None:
    failover = FailoverConfig(node_timeout_s=0.3)
    store = FakeStore({"cam-1"})
    with ServiceThread(store, tmp_path, failover=failover) as svc:
        sock: zmq.Socket = zmq.Context.instance().socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.IDENTITY, b"old-node")
        sock.connect(svc.endpoint)
        try:
            event = make_event("cam-1")
            sock.send_multipart(encode(MessageType.EVENT, event, node="old-node", version=1))
            replies = []
            for _ in range(8):  # heartbeats across the warm-up and after it
                sock.send_multipart(
                    encode(MessageType.HEARTBEAT, beat("old-node"), node="old-node", version=1)
                )
                while sock.poll(150):
                    replies.append(sock.recv_multipart())
            assert replies, "no ack came back"
            envelopes = [json.loads(r[0]) for r in replies]
            assert {e["v"] for e in envelopes} == {1}
            assert {e["type"] for e in envelopes} == {"ack"}
            assert decode(replies[0]).payload.event_ids == [event.event_id]
            assert len(store.heartbeats) == 8
        finally:
            sock.close(0)


def test_failover_off_sends_no_reply(tmp_path: Path) -> None:
    failover = FailoverConfig(enabled=False, node_timeout_s=0.2)
    with ServiceThread(FakeStore({"cam-1"}), tmp_path, failover=failover) as svc:
        a = publisher(tmp_path, "node-a", svc.endpoint, heartbeat_s=0.05)
        try:
            assert wait_for(lambda: svc.metrics.value("gridwatch_heartbeats") >= 10, timeout=5)
            assert a.alive_nodes is None
        finally:
            a.stop()
