"""Typed configuration, loaded from ``configs/*.yaml`` and checked at start-up.

Every section is a pydantic model with ``extra="forbid"`` and bounds on numbers, so a
typo or a negative interval is an error that names its file and key path instead of a
surprise at run time. Settings are built by :func:`load_settings` (a factory), never at
import time, so tests can make as many as they like.

Precedence for the database URL: ``--db`` flag, then ``GRIDWATCH_DB``, then
``database.url`` in the config file, then SQLite under the data directory.

The node list (who shares the cameras) is ``sharding.nodes`` or ``sharding.nodes_file``;
``sharding.node_count`` (or ``GRIDWATCH_NODE_COUNT``, which a Kubernetes StatefulSet's
replica count fills) makes it ``node-000`` ... ``node-<N-1>`` when no list is given, and
must agree with the list when one is.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from aggregator.config import AggregatorConfig
from edge_agent.config import EdgeConfig
from gridwatch.sections import Section

DEFAULT_CONFIG = Path("configs/gridwatch.yaml")
CONFIG_ENV = "GRIDWATCH_CONFIG"
DB_ENV = "GRIDWATCH_DB"
DATA_DIR_ENV = "GRIDWATCH_DATA_DIR"
NODE_COUNT_ENV = "GRIDWATCH_NODE_COUNT"


class PathsConfig(Section):
    data_dir: Path = Field(
        Path("data"), description="Where SQLite files, outboxes and evidence live."
    )


class DatabaseConfig(Section):
    url: str | None = Field(None, description="SQLAlchemy URL; default SQLite under data_dir.")


class GridConfig(Section):
    file: Path = Path("configs/grid/songjiang.geojson")
    seed: int = Field(20221, description="Seed of `gridwatch grid generate`.")


class RegistryConfig(Section):
    file: Path = Path("camera_registry.csv")


class NodeSpec(Section):
    """One GPU node of the edge fleet."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    capacity: float = Field(1.0, gt=0, description="Relative capacity (an H100 node = 1.0).")
    bias: float = Field(
        1.0, gt=0, description="Calibration factor written by `cameras shard --calibrate`."
    )


def _unique_node_ids(nodes: list[NodeSpec]) -> list[NodeSpec]:
    seen: set[str] = set()
    for node in nodes:
        if node.id in seen:
            raise ValueError(f"node id {node.id!r} is listed twice")
        seen.add(node.id)
    return nodes


class NodesFile(Section):
    """A standalone node list (``configs/nodes.yaml``)."""

    nodes: list[NodeSpec]

    _unique = field_validator("nodes")(_unique_node_ids)


class ShardingConfig(Section):
    nodes: list[NodeSpec] = Field(default_factory=list)
    nodes_file: Path | None = Field(
        None, description="YAML file with a `nodes:` list; overrides `nodes` when set."
    )
    node_count: int | None = Field(
        None,
        ge=1,
        le=100_000,
        description="Without a list: nodes node-000 ... node-<N-1> ($GRIDWATCH_NODE_COUNT "
        "overrides; a StatefulSet's replicas). With a list: must equal its length.",
    )

    _unique = field_validator("nodes")(_unique_node_ids)


class Settings(Section):
    """The whole of ``configs/gridwatch.yaml``."""

    paths: PathsConfig = Field(default_factory=PathsConfig)
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    grid: GridConfig = Field(default_factory=GridConfig)
    registry: RegistryConfig = Field(default_factory=RegistryConfig)
    sharding: ShardingConfig = Field(default_factory=ShardingConfig)
    edge: EdgeConfig = Field(default_factory=EdgeConfig)
    aggregator: AggregatorConfig = Field(default_factory=AggregatorConfig)

    @model_validator(mode="after")
    def _heartbeats_fit_failover(self) -> Settings:
        beat = self.edge.delivery.heartbeat_s
        timeout = self.aggregator.failover.node_timeout_s
        if self.aggregator.failover.enabled and 2 * beat > timeout:
            raise ValueError(
                f"edge.delivery.heartbeat_s ({beat:g}) must be at most half of "
                f"aggregator.failover.node_timeout_s ({timeout:g}): one late heartbeat "
                "must not make a live node look dead"
            )
        return self

    def database_url(self, override: str | None = None) -> str:
        """The URL to use: ``override`` (a ``--db`` flag), env, file, or SQLite default."""
        if override:
            return override
        if env := os.environ.get(DB_ENV):
            return env
        if self.database.url:
            return self.database.url
        return f"sqlite:///{self.data_dir() / 'gridwatch.db'}"

    def data_dir(self) -> Path:
        return Path(os.environ.get(DATA_DIR_ENV) or self.paths.data_dir)


# --------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in one config file, located by key path (and line where known)."""

    file: Path
    key_path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        key = self.key_path or "(top level)"
        return f"{where}: {key}: {self.message}"


class ConfigError(Exception):
    """A config file is missing, not YAML, or does not match its schema.

    Recover by fixing each listed key; ``gridwatch config check`` lists them all.
    """

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


M = TypeVar("M", bound=BaseModel)


def _line_index(text: str) -> dict[tuple[str, ...], int]:
    """Map each key path in a YAML document to its 1-based line number."""
    index: dict[tuple[str, ...], int] = {}
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return index

    def walk(node: Any, path: tuple[str, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                sub = (*path, str(key.value))
                index[sub] = key.start_mark.line + 1
                walk(value, sub)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                sub = (*path, str(i))
                index[sub] = item.start_mark.line + 1
                walk(item, sub)

    if root is not None:
        walk(root, ())
    return index


def _issues_from_validation(
    file: Path, error: ValidationError, lines: dict[tuple[str, ...], int]
) -> list[ConfigIssue]:
    issues = []
    for err in error.errors():
        loc = tuple(str(p) for p in err["loc"])
        line = None
        for cut in range(len(loc), 0, -1):  # nearest ancestor that has a line
            if loc[:cut] in lines:
                line = lines[loc[:cut]]
                break
        issues.append(ConfigIssue(file, ".".join(loc), err["msg"], line))
    return issues


def load_model(model: type[M], file: Path, *, missing_ok: bool = False) -> M:
    """Load ``file`` (YAML) into ``model``, raising :class:`ConfigError` with every problem."""
    if not file.exists():
        if missing_ok:
            return model()
        raise ConfigError([ConfigIssue(file, "", "file not found")])
    text = file.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ConfigError([ConfigIssue(file, "", f"not valid YAML: {exc}", line)]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([ConfigIssue(file, "", "expected a mapping at the top level")])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_issues_from_validation(file, exc, _line_index(text))) from None


def config_path(explicit: Path | None = None) -> Path:
    """The main config file: ``--config``, then ``GRIDWATCH_CONFIG``, then the default."""
    if explicit is not None:
        return explicit
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)


def load_settings(path: Path | None = None) -> Settings:
    """Build :class:`Settings` from the main config file (embedded defaults when it is absent).

    An explicitly named file must exist; the default file may be missing.
    """
    file = config_path(path)
    explicit = path is not None or CONFIG_ENV in os.environ
    settings = load_model(Settings, file, missing_ok=not explicit)
    nodes_file = settings.sharding.nodes_file
    if nodes_file is not None:
        nodes = load_model(NodesFile, nodes_file)
        settings.sharding.nodes = nodes.nodes
    _apply_node_count(settings.sharding, file)
    return settings


def _apply_node_count(sharding: ShardingConfig, file: Path) -> None:
    """``node_count`` (``$GRIDWATCH_NODE_COUNT`` first) makes or checks the node list."""
    from gridwatch.sharding import default_nodes

    count = sharding.node_count
    if raw := os.environ.get(NODE_COUNT_ENV):
        try:
            count = int(raw)
            if count < 1:
                raise ValueError
        except ValueError:
            issue = ConfigIssue(Path(f"${NODE_COUNT_ENV}"), "", f"{raw!r} is not a count >= 1")
            raise ConfigError([issue]) from None
        file = Path(f"${NODE_COUNT_ENV}")
    if count is None:
        return
    if not sharding.nodes:
        sharding.nodes = default_nodes(count)
    elif len(sharding.nodes) != count:
        where = sharding.nodes_file or file
        raise ConfigError(
            [
                ConfigIssue(
                    file,
                    "sharding.node_count",
                    f"{count} node(s), but {where} lists {len(sharding.nodes)}: "
                    "scale the StatefulSet and the node list together",
                )
            ]
        )


# Files that `gridwatch config check` knows how to validate, by name. Later parts of the
# system register their own schemas here (rules, event types, the model catalogue).
KNOWN_FILES: dict[str, str] = {
    "gridwatch.yaml": "gridwatch.config:Settings",
    "nodes.yaml": "gridwatch.config:NodesFile",
    "rules.yaml": "edge_agent.rules.config:RulesFile",
    "catalogue.yaml": "edge_agent.catalogue:Catalogue",
    "event_types.yaml": "aggregator.event_types:EventTypesFile",
    "training.yaml": "training.vocabulary:TrainingVocabulary",
}


def _resolve(spec: str) -> type[BaseModel]:
    import importlib

    module, _, name = spec.partition(":")
    model = getattr(importlib.import_module(module), name)
    assert isinstance(model, type) and issubclass(model, BaseModel)
    return model


def check_files(files: Iterable[Path]) -> tuple[list[Path], list[ConfigIssue], list[Path]]:
    """Validate each file against its known schema.

    Returns (checked, issues, unknown): the files that were validated, every problem
    found, and YAML files for which no schema is registered.
    """
    checked: list[Path] = []
    issues: list[ConfigIssue] = []
    unknown: list[Path] = []
    for file in files:
        spec = KNOWN_FILES.get(file.name)
        if spec is None:
            unknown.append(file)
            continue
        checked.append(file)
        try:
            load_model(_resolve(spec), file)
        except ConfigError as exc:
            issues.extend(exc.issues)
    return checked, issues, unknown
