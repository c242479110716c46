"""CURVE: with keys configured only listed agents deliver; the others keep their events."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from gridwatch.cli import cli
from tests.aggregator.delivery_helpers import (
    FakeStore,
    ServiceThread,
    make_event,
    publisher,
    wait_for,
)


def generate(name: str, out: Path) -> None:
    result = CliRunner().invoke(cli, ["keys", "generate", name, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / f"{name}.key").exists() and (out / f"{name}.key_secret").exists()


def test_keys_generate_refuses_to_overwrite(tmp_path: Path) -> None:
    generate("agg", tmp_path)
    again = CliRunner().invoke(cli, ["keys", "generate", "agg", "--out", str(tmp_path)])
    assert again.exit_code != 0 and "not overwriting" in again.output
    assert (tmp_path / "agg.key_secret").stat().st_mode & 0o077 == 0


def test_only_listed_agents_can_deliver(tmp_path: Path) -> None:
    server, listed, other = tmp_path / "server", tmp_path / "authorized", tmp_path / "other"
    generate("aggregator", server)
    generate("good-node", listed)
    generate("bad-node", other)
    store = FakeStore({"cam-1"})
    svc = ServiceThread(
        store,
        tmp_path,
        bind="tcp://0.0.0.0:*",  # non-loopback is allowed because CURVE is on
        server_secret_key=server / "aggregator.key_secret",
        authorized_keys=listed,
    )
    with svc:
        assert wait_for(lambda: bool(svc.service.receiver and svc.service.receiver.endpoint))
        assert svc.service.receiver is not None
        port = svc.service.receiver.endpoint.rsplit(":", 1)[1]
        endpoint = f"tcp://127.0.0.1:{port}"
        keys = {"server_public_key": server / "aggregator.key"}
        bad = publisher(
            tmp_path, "bad-node", endpoint, client_secret_key=other / "bad-node.key_secret", **keys
        )
        plain = publisher(tmp_path, "plain-node", endpoint)  # no keys at all
        good = publisher(
            tmp_path,
            "good-node",
            endpoint,
            client_secret_key=listed / "good-node.key_secret",
            **keys,
        )
        for pub in (bad, plain, good):
            for _ in range(5):
                pub.submit(make_event("cam-1"))
        assert wait_for(lambda: good.outbox.count() == 0)
        assert not wait_for(lambda: bad.outbox.count() + plain.outbox.count() < 10, timeout=2)
        for pub in (bad, plain, good):
            pub.stop()
    assert {e.node_id for e in store.stored.values()} == {"good-node"}
    assert len(store.stored) == 5
    assert svc.exit_code == 0
