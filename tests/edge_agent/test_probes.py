"""The edge agent's health routes on a real HTTP socket (what Kubernetes probes)."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from edge_agent.probes import AgentProbes, serve_probes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.fixture
def served() -> Iterator[tuple[AgentProbes, int, dict[str, bool]]]:
    state = {"publisher": True}
    probes = AgentProbes(stall_s=30, publisher_alive=lambda: state["publisher"])
    port = free_port()
    server = serve_probes(port, probes, addr="127.0.0.1")
    try:
        yield probes, port, state
    finally:
        server.shutdown()


def test_probes_follow_the_agent(served: tuple[AgentProbes, int, dict[str, bool]]) -> None:
    probes, port, state = served
    assert get(port, "/healthz") == (200, "ok\n")
    code, body = get(port, "/readyz")
    assert code == 503 and "cameras not read" in body  # not ready before the registry read
    probes.cameras_read = True
    assert get(port, "/readyz")[0] == 200
    state["publisher"] = False
    assert get(port, "/healthz") == (503, "the delivery thread is not running\n")
    state["publisher"] = True
    probes.last_tick -= 31  # the main loop has not gone round for 31 s
    code, body = get(port, "/healthz")
    assert code == 503 and "stalled for 31 s" in body
    assert get(port, "/readyz")[0] == 503
    probes.tick()
    assert get(port, "/healthz")[0] == 200


def test_metrics_are_still_served(served: tuple[AgentProbes, int, dict[str, bool]]) -> None:
    import edge_agent.agent  # noqa: F401 - registers the agent's metrics

    _probes, port, _state = served
    code, body = get(port, "/metrics")
    assert code == 200 and "gridwatch_edge_cameras_covering" in body
