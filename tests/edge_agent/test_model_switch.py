"""An edge agent switches catalogue entries without a restart: the model the config and
catalogue name is re-read on each registry poll and a changed one is loaded (real
weights); a broken catalogue keeps the running model; rules that need words the model
lacks stay off."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import cv2
import pytest

from edge_agent.agent import EdgeAgent
from edge_agent.catalogue import ModelEntry, load_catalogue
from edge_agent.config import EdgeConfig
from edge_agent.model_watch import ModelWatch
from edge_agent.rules.config import RuleSpec
from gridwatch.config import NodeSpec, Settings


def write_config(path: Path, catalogue: Path, model: str | None) -> None:
    pinned = f"\n  detector: {{model: {model}}}" if model else ""
    path.write_text(f"edge:\n  models_catalogue: {catalogue}{pinned}\n", encoding="utf-8")
    stamp = time.time() + 1  # a new mtime even within one clock tick
    os.utime(path, (stamp, stamp))


@pytest.mark.yolo
def test_the_watch_follows_catalogue_and_config(
    weights_dir: Path, repo: Path, tmp_path: Path
) -> None:
    from edge_agent.detector import Detector

    catalogue = tmp_path / "catalogue.yaml"
    shutil.copyfile(repo / "models/catalogue.yaml", catalogue)
    config = tmp_path / "gridwatch.yaml"
    write_config(config, catalogue, None)
    edge = EdgeConfig(models_catalogue=catalogue)
    loads: list[str] = []

    def make(entry: ModelEntry) -> Detector:
        loads.append(entry.name)
        return Detector(entry, edge.detector, weights_dir=weights_dir)

    watch = ModelWatch(config, edge, weights_dir, make)
    detector = watch.load()
    assert detector.entry.name == "yolo26n" and watch.poll() is None  # nothing changed

    text = catalogue.read_text(encoding="utf-8")
    catalogue.write_text(text.replace("default: yolo26n", "default: yolov8n"), encoding="utf-8")
    switched = watch.poll()
    assert switched is not None and switched.entry.name == "yolov8n"
    bus = cv2.imread(str(Path(__import__("ultralytics").__file__).parent / "assets/bus.jpg"))
    assert "bus" in switched.detect([bus])[0].labels  # the new detector works
    assert watch.poll() is None

    write_config(config, catalogue, "yolo26n")  # the config pins a model: it wins
    pinned = watch.poll()
    assert pinned is not None and pinned.entry.name == "yolo26n"

    catalogue.write_text("models: [oops", encoding="utf-8")  # half-written: keep running
    assert watch.poll() is None and watch.current is not None
    assert watch.current.entry.name == "yolo26n"
    assert loads == ["yolo26n", "yolov8n", "yolo26n"]


def test_agent_uses_a_new_model_and_its_rules(sqlite_url: str, repo: Path) -> None:
    settings = Settings()
    settings.sharding.nodes = [NodeSpec(id="node-a")]
    agent = EdgeAgent(settings, node_id="node-a", db_url=sqlite_url)
    coco = load_catalogue(repo / "models/catalogue.yaml").get("yolo26n")
    pile_rule = RuleSpec(
        id="pile", kind="left_object", event_code="01-03", zones=["no_dumping"],
        classes=["pile", "garbage_bag"], requires=["pile"],
    )  # fmt: skip
    dumping = RuleSpec(
        id="dumping", kind="left_object", event_code="01-03", zones=["no_dumping"],
        classes=["bag", "object"],
    )  # fmt: skip
    agent.all_rules = [dumping, pile_rule]
    agent.use_model(coco)
    assert [r.id for r in agent.rules] == ["dumping"] and agent.model_name == "yolo26n"

    class Analyzer:
        model = "yolo26n"

    agent.analyzers["cam-1"] = Analyzer()
    tuned = ModelEntry(
        name="yolo26n-ft-1", weights="x.pt", classes=["pile", "person"],
        vocabulary={"pile": "pile", "person": "person"},
    )  # fmt: skip
    agent.use_model(tuned)
    assert [r.id for r in agent.rules] == ["dumping", "pile"]
    assert agent.analyzers == {}  # rebuilt with the new rules on the next refresh
    same_rules = tuned.model_copy(update={"name": "yolo26n-ft-2"})
    agent.analyzers["cam-1"] = Analyzer()
    agent.use_model(same_rules)
    assert agent.analyzers["cam-1"].model == "yolo26n-ft-2"  # kept, renamed
