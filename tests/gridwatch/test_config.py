from pathlib import Path

import pytest
from click.testing import CliRunner

from gridwatch.cli import cli
from gridwatch.config import ConfigError, Settings, load_model, load_settings


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_repository_configs_are_valid(repo: Path) -> None:
    result = CliRunner().invoke(cli, ["config", "check", "--dir", str(repo / "configs")])
    assert result.exit_code == 0, result.output
    assert "gridwatch.yaml" in result.output


def test_error_names_file_key_path_and_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "gridwatch.yaml",
        "paths:\n  data_dir: d\nsharding:\n  nodes:\n"
        "    - id: a\n    - id: b\n      capacity: -2\n",
    )
    with pytest.raises(ConfigError) as info:
        load_model(Settings, path)
    (issue,) = info.value.issues
    assert issue.file == path
    assert issue.key_path == "sharding.nodes.1.capacity"
    assert issue.line == 7
    assert f"{path}:7: sharding.nodes.1.capacity:" in str(issue)


def test_unknown_key_and_bad_yaml_are_reported(tmp_path: Path) -> None:
    unknown = write(tmp_path, "gridwatch.yaml", "databse:\n  url: x\n")
    with pytest.raises(ConfigError) as info:
        load_model(Settings, unknown)
    assert info.value.issues[0].key_path == "databse"
    broken = write(tmp_path, "broken.yaml", "a: [1,\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_model(Settings, broken)


def test_config_check_lists_every_error_and_exits_nonzero(tmp_path: Path) -> None:
    write(tmp_path, "gridwatch.yaml", "grid:\n  seed: many\nregistry:\n  fil: x.csv\n")
    write(tmp_path, "nodes.yaml", "nodes:\n  - {id: a}\n  - {id: a}\n")
    result = CliRunner().invoke(cli, ["config", "check", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "gridwatch.yaml:2: grid.seed:" in result.output
    assert "gridwatch.yaml:4: registry.fil:" in result.output
    assert "nodes.yaml" in result.output and "listed twice" in result.output


def test_database_url_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(
        write(tmp_path, "g.yaml", "database:\n  url: sqlite:///from-file.db\n")
    )
    assert settings.database_url("sqlite:///flag.db") == "sqlite:///flag.db"
    monkeypatch.setenv("GRIDWATCH_DB", "sqlite:///env.db")
    assert settings.database_url() == "sqlite:///env.db"
    monkeypatch.delenv("GRIDWATCH_DB")
    assert settings.database_url() == "sqlite:///from-file.db"
    monkeypatch.setenv("GRIDWATCH_DATA_DIR", str(tmp_path / "dd"))
    assert load_settings(write(tmp_path, "e.yaml", "")).database_url() == (
        f"sqlite:///{tmp_path / 'dd' / 'gridwatch.db'}"
    )


def test_explicit_missing_config_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(tmp_path / "nope.yaml")


def test_node_count_makes_the_node_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write(tmp_path, "gridwatch.yaml", "sharding:\n  node_count: 3\n")
    assert [n.id for n in load_settings(config).sharding.nodes] == [
        "node-000",
        "node-001",
        "node-002",
    ]
    # A StatefulSet's replica count, passed in the environment, wins over the file.
    monkeypatch.setenv("GRIDWATCH_NODE_COUNT", "5")
    assert len(load_settings(config).sharding.nodes) == 5
    monkeypatch.setenv("GRIDWATCH_NODE_COUNT", "many")
    with pytest.raises(ConfigError, match="'many' is not a count"):
        load_settings(config)


def test_node_count_must_match_a_given_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nodes = write(tmp_path, "nodes.yaml", "nodes: [{id: a}, {id: b}]\n")
    config = write(tmp_path, "gridwatch.yaml", f"sharding: {{nodes_file: {nodes}}}\n")
    monkeypatch.setenv("GRIDWATCH_NODE_COUNT", "2")
    assert [n.id for n in load_settings(config).sharding.nodes] == ["a", "b"]  # calibrated ids
    monkeypatch.setenv("GRIDWATCH_NODE_COUNT", "3")
    with pytest.raises(ConfigError) as info:
        load_settings(config)
    assert "3 node(s), but" in str(info.value) and "lists 2" in str(info.value)


def test_heartbeat_must_fit_the_failover_timeout(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        "gridwatch.yaml",
        "edge: {delivery: {heartbeat_s: 20}}\naggregator: {failover: {node_timeout_s: 30}}\n",
    )
    with pytest.raises(ConfigError, match="at most half"):
        load_settings(config)
