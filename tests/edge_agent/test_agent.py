"""The edge agent follows the registry: cameras added, changed or disabled are picked up
without a restart, and a node only takes the cameras rendezvous hashing gives it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from edge_agent.agent import EdgeAgent, my_cameras
from edge_agent.rules.config import load_rules
from gridwatch.cli import cli
from gridwatch.config import NodeSpec, Settings
from gridwatch.registry.csvfile import write_registry
from gridwatch.registry.schema import CameraRecord
from gridwatch.registry.zones import Zone, ZonePurpose
from gridwatch.sharding import assign

KERB = Zone("kerb", ZonePurpose.NO_PARKING, ((0.0, 0.5), (1.0, 0.5), (1.0, 1.0), (0.0, 1.0)))


class RecordingPool:
    """Stands in for IngestPool: remembers what the agent asked it to read."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def set_cameras(self, sources: list[Any]) -> None:
        self.calls.append({s.camera_id: (s.url, s.analysis_interval_s) for s in sources})


def cams(n: int, **changes: Any) -> list[CameraRecord]:
    out = []
    for i in range(n):
        url = f"rtsp://admin:pw@10.0.0.{i + 1}/live"
        out.append(CameraRecord(f"cam-{i:02d}", f"camera {i}", url, url, 121.23, 31.01))
    return [c.__class__(**{**c.__dict__, **changes.get(c.camera_id, {})}) for c in out]


def register(tmp_path: Path, url: str, records: list[CameraRecord]) -> None:
    path = tmp_path / "cams.csv"
    write_registry(records, path)
    result = CliRunner().invoke(cli, ["cameras", "import", str(path), "--db", url, "--prune"])
    assert result.exit_code == 0, result.output


@pytest.fixture
def agent(sqlite_url: str, repo: Path) -> EdgeAgent:
    settings = Settings()
    settings.sharding.nodes = [NodeSpec(id="node-a"), NodeSpec(id="node-b")]
    agent = EdgeAgent(settings, node_id="node-a", db_url=sqlite_url)
    agent.rules = load_rules(repo / "configs/rules.yaml").active()
    agent.model_name = "yolo26n"
    agent.pool = RecordingPool()
    return agent


def test_node_takes_only_its_share(agent: EdgeAgent, tmp_path: Path, sqlite_url: str) -> None:
    register(tmp_path, sqlite_url, cams(40))
    mine = {c.camera_id for c in my_cameras(sqlite_url, agent.settings, "node-a")}
    theirs = {c.camera_id for c in my_cameras(sqlite_url, agent.settings, "node-b")}
    expected = assign([f"cam-{i:02d}" for i in range(40)], agent.settings.sharding.nodes).as_dict()
    assert mine == {c for c, n in expected.items() if n == "node-a"}
    assert mine | theirs == set(expected) and not mine & theirs
    with pytest.raises(ValueError, match="not in the node list"):
        my_cameras(sqlite_url, agent.settings, "node-z")


def test_registry_changes_reach_the_agent_without_restart(
    agent: EdgeAgent, tmp_path: Path, sqlite_url: str
) -> None:
    register(tmp_path, sqlite_url, cams(12))
    agent.refresh()
    first = agent.pool.calls[-1]
    assert set(first) == set(agent.analyzers) and first
    camera = sorted(first)[0]
    before_all = dict(agent.analyzers)
    before = before_all[camera]

    # Change one camera's zones and interval, disable another, add a new one.
    other = sorted(first)[1]
    changes = {camera: {"zones": (KERB,), "analysis_interval_s": 2.0}, other: {"enabled": False}}
    records = [*cams(12, **changes), *cams(30)[12:13]]
    register(tmp_path, sqlite_url, records)
    agent.refresh()
    now = agent.pool.calls[-1]
    assert now[camera][1] == 2.0
    assert agent.analyzers[camera] is not before  # rebuilt with the new zones
    assert [z.id for z in agent.analyzers[camera].zones] == ["kerb"]
    assert other not in now and other not in agent.analyzers
    added = set(now) - set(first)
    expected_new = {c.camera_id for c in my_cameras(sqlite_url, agent.settings, "node-a")} - set(
        first
    )
    assert added == expected_new
    # Unchanged cameras keep their analyzer (and so their tracks and incidents).
    kept = set(first) & set(now) - {camera}
    assert kept and all(agent.analyzers[cid] is before_all[cid] for cid in kept)


def test_heartbeat_statuses_and_camera_gauge(agent: EdgeAgent) -> None:
    from prometheus_client import REGISTRY

    from edge_agent.ingest.health import CameraHealth
    from gridwatch.protocol import CameraState

    class HealthPool(RecordingPool):
        def __init__(self, states: dict[str, CameraState]) -> None:
            super().__init__()
            self.states = states

        def health(self) -> dict[str, CameraHealth]:
            return {
                c: CameraHealth(c, s, 0.0, "connection refused") for c, s in self.states.items()
            }

    def gauge(state: str) -> float | None:
        return REGISTRY.get_sample_value(
            "gridwatch_edge_cameras", {"node": "node-a", "state": state}
        )

    agent.pool = HealthPool({"a": CameraState.ONLINE, "b": CameraState.OFFLINE})
    statuses = agent._statuses()
    assert {(s.camera_id, s.state) for s in statuses} == {
        ("a", CameraState.ONLINE),
        ("b", CameraState.OFFLINE),
    }
    assert (gauge("online"), gauge("offline")) == (1.0, 1.0)
    agent.pool.states["b"] = CameraState.ONLINE
    agent._statuses()
    assert (gauge("online"), gauge("offline")) == (2.0, 0.0)  # an emptied state reads 0


def test_failover_view_covers_a_dead_node_and_gives_its_cameras_back(
    agent: EdgeAgent, tmp_path: Path, sqlite_url: str
) -> None:
    nodes = [NodeSpec(id="node-a"), NodeSpec(id="node-b"), NodeSpec(id="node-c")]
    agent.settings.sharding.nodes = nodes
    register(tmp_path, sqlite_url, cams(60))
    ids = [f"cam-{i:02d}" for i in range(60)]
    home = assign(ids, nodes).as_dict()
    own = {c for c, n in home.items() if n == "node-a"}
    agent.refresh()
    assert set(agent.pool.calls[-1]) == own and not agent.covering
    kept = dict(agent.analyzers)

    # The aggregator no longer hears node-b: node-a takes the part of b's share that
    # rendezvous hashing over {a, c} gives it, as soon as the view arrives.
    agent.set_alive_nodes(["node-a", "node-c", "not-configured"])
    assert agent.view_changed.is_set()
    agent.refresh()
    over_ac = assign(ids, [nodes[0], nodes[2]]).as_dict()
    taken = {c for c, n in over_ac.items() if n == "node-a"} - own
    assert taken and all(home[c] == "node-b" for c in taken)  # only b's cameras move
    assert set(agent.pool.calls[-1]) == own | taken
    assert agent.covering == {"node-b": len(taken)}
    assert all(agent.analyzers[c] is kept[c] for c in own)  # its own cameras run on

    agent.set_alive_nodes(["node-c", "node-a"])  # the same view again: nothing to do
    assert not agent.view_changed.is_set()

    # An aggregator that hears only node-c never makes node-a drop its own cameras.
    agent.set_alive_nodes(["node-c"])
    agent.refresh()
    assert set(agent.pool.calls[-1]) >= own

    # node-b returns: its cameras go back, node-a runs exactly its own share again.
    agent.set_alive_nodes(["node-a", "node-b", "node-c"])
    agent.refresh()
    assert set(agent.pool.calls[-1]) == own and agent.covering == {}
    assert all(agent.analyzers[c] is kept[c] for c in own)
