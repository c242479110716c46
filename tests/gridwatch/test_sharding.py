"""Weighted rendezvous hashing: balance, minimal movement, the same answer everywhere."""

import json
import subprocess
import sys

import numpy as np
import pytest

from gridwatch.config import NodeSpec
from gridwatch.sharding import (
    assign,
    balance,
    calibrate,
    cameras_for_node,
    default_nodes,
    moved,
    node_for_name,
    serving_nodes,
)

CITY = [f"31011700001320{i:06d}" for i in range(200_000)]


@pytest.fixture(scope="module")
def calibrated() -> list[NodeSpec]:
    return calibrate(CITY, default_nodes(100))


@pytest.fixture(scope="module")
def city_map(calibrated: list[NodeSpec]):  # type: ignore[no-untyped-def]
    return assign(CITY, calibrated)


def test_plain_hashing_spread_is_binomial() -> None:
    # Uncalibrated: every node near its share (binomial: sigma about 2.2% at 2,000 cameras).
    nodes = default_nodes(100)
    bal = balance(assign(CITY, nodes), nodes)
    assert 0.85 < bal.min_over_mean <= 1.0 <= bal.max_over_mean < 1.15


def test_calibrated_balance_within_5_percent(city_map, calibrated) -> None:  # type: ignore[no-untyped-def]
    bal = balance(city_map, calibrated)
    assert bal.worst_deviation <= 0.05
    assert bal.counts.sum() == len(CITY)


def test_removing_a_node_moves_only_its_cameras(city_map, calibrated) -> None:  # type: ignore[no-untyped-def]
    gone = calibrated[37]
    after = assign(CITY, [n for n in calibrated if n.id != gone.id])
    changed = moved(city_map, after)
    own = np.array(city_map.node_ids)[city_map.node_index] == gone.id
    assert changed.sum() == own.sum() > 0
    assert np.array_equal(changed, own)
    # ...and its cameras spread over the others instead of piling onto one.
    receivers = np.bincount(after.node_index[own], minlength=len(after.node_ids))
    assert receivers.max() < 0.05 * own.sum()
    assert balance(after, [n for n in calibrated if n.id != gone.id]).worst_deviation <= 0.05


def test_adding_a_node_moves_about_one_over_n(city_map, calibrated) -> None:  # type: ignore[no-untyped-def]
    grown = [*calibrated, NodeSpec(id="node-100")]
    after = assign(CITY, grown)
    changed = moved(city_map, after)
    assert 0.8 / 101 < changed.mean() < 1.2 / 101
    new_node = np.array(after.node_ids)[after.node_index] == "node-100"
    assert np.array_equal(changed, new_node)  # every moved camera went to the new node


def test_capacity_weights_shift_load() -> None:
    nodes = [NodeSpec(id="big", capacity=3.0), NodeSpec(id="small", capacity=1.0)]
    counts = assign(CITY[:40_000], nodes).counts()
    assert counts[0] / counts.sum() == pytest.approx(0.75, abs=0.01)


def test_same_map_in_another_process() -> None:
    cams = CITY[:5000]
    nodes = default_nodes(7)
    here = assign(cams, nodes).as_dict()
    code = (
        "import json; from gridwatch.sharding import assign, default_nodes;"
        "cams=[f'31011700001320{i:06d}' for i in range(5000)];"
        "print(json.dumps(assign(cams, default_nodes(7)).as_dict()))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == here


def test_cameras_for_node_partitions_the_cameras() -> None:
    cams = CITY[:3000]
    nodes = default_nodes(5)
    parts = [set(cameras_for_node(cams, nodes, n.id)) for n in nodes]
    assert sum(len(p) for p in parts) == len(cams)
    assert set().union(*parts) == set(cams)
    with pytest.raises(KeyError, match="not in the node list"):
        cameras_for_node(cams, nodes, "node-999")


def test_calibration_refuses_what_it_cannot_do() -> None:
    with pytest.raises(RuntimeError, match="could not balance"):
        calibrate(CITY[:20_000], default_nodes(10), tolerance=1e-9, max_rounds=1)


def test_failover_view_moves_only_the_dead_nodes_cameras_and_back() -> None:
    """What every agent computes from the aggregator's alive list (edge_agent/agent.py)."""
    cams = CITY[:30_000]
    nodes = default_nodes(10)
    full = assign(cams, nodes)
    alive = {n.id for n in nodes} - {"node-004"}
    views = [serving_nodes(nodes, alive, me) for me in sorted(alive)]
    assert all([n.id for n in v] == [n.id for n in views[0]] for v in views)  # all agree
    during = assign(cams, views[0])
    changed = moved(full, during)
    dead_own = np.array(full.node_ids)[full.node_index] == "node-004"
    assert np.array_equal(changed, dead_own) and dead_own.sum() > 0
    takers = np.array(during.node_ids)[during.node_index[dead_own]]
    assert len(set(takers)) == 9  # spread over every other node, none kept by the dead one
    # It returns: the view is the whole list again, and the map is the original one.
    back = assign(cams, serving_nodes(nodes, alive | {"node-004"}, "node-000"))
    assert not moved(full, back).any()


@pytest.mark.parametrize(
    ("alive", "me", "expected"),
    [
        (None, "b", ["a", "b", "c"]),  # no view yet: everyone serves
        ({"a", "c"}, "b", ["a", "b", "c"]),  # the aggregator lost b: b keeps its own share
        ({"a"}, "a", ["a"]),
        (set(), "c", ["c"]),  # an aggregator that hears nobody: each keeps its own
        ({"a", "zz"}, "a", ["a"]),  # unknown nodes are not invented
    ],
)
def test_serving_nodes(alive: set[str] | None, me: str, expected: list[str]) -> None:
    nodes = [NodeSpec(id=i) for i in ("a", "b", "c")]
    assert [n.id for n in serving_nodes(nodes, alive, me)] == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("node-002", "node-002"),  # a listed id is itself
        ("edge-0", "node-000"),  # pod ordinal 0: the first node
        ("edge-17", "node-017"),  # the 18th node of the list
        ("gridwatch-edge-3", "node-003"),
    ],
)
def test_node_for_pod_name(name: str, expected: str) -> None:
    assert node_for_name(name, default_nodes(20)) == expected


@pytest.mark.parametrize(
    ("name", "message"),
    [("edge-20", "ordinal 20 but the node list has 20"), ("myhost", "not in the node list")],
)
def test_node_for_pod_name_refuses(name: str, message: str) -> None:
    with pytest.raises(KeyError, match=message):
        node_for_name(name, default_nodes(20))


def test_default_node_ids_keep_their_width_when_the_fleet_grows() -> None:
    small, big = default_nodes(1000), default_nodes(1001)
    assert [n.id for n in big[:1000]] == [n.id for n in small]
    assert big[-1].id == "node-1000" and small[7].id == "node-007"
