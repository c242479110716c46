"""``gridwatch eval``: labels errors that name their entry, and a real run on the scenes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from edge_agent.evaluation.cli import eval_cmd
from edge_agent.evaluation.labels import LabelsError, load_labels

GOOD = {
    "file": "clip.mp4",
    "category": "dumping",
    "events": [{"t_start_s": 3.0, "approx_box_normalized": [0.1, 0.1, 0.3, 0.3]}],
    "licence": "unknown fields are ignored",
}


def write(tmp_path: Path, entries: Any, clip: bool = True) -> Path:
    if clip:
        (tmp_path / "clip.mp4").write_bytes(b"")
    path = tmp_path / "labels.json"
    path.write_text(json.dumps(entries, indent=2) if not isinstance(entries, str) else entries)
    return path


def test_a_good_file_loads_with_unknown_fields_ignored(tmp_path: Path) -> None:
    zones = [{"id": "kerb", "purpose": "no_dumping", "polygon": [[0, 0.5], [1, 0.5], [1, 1]]}]
    (clip,) = load_labels(write(tmp_path, [{**GOOD, "zones": zones, "eval_file": "clip.mp4"}]))
    assert clip.path == tmp_path / "clip.mp4" and clip.category.value == "dumping"
    assert clip.zone_list()[0].id == "kerb"
    assert clip.incidents[0].t_reference_s == 3.0


@pytest.mark.parametrize(
    ("entries", "clip", "message"),
    [
        ('[{"file": "clip.mp4",\n "category": }]', True, "labels.json:2: not valid JSON"),
        ({"file": "clip.mp4"}, True, "expected a JSON list"),
        ([{**GOOD, "category": "fireworks"}], True, "entry 1 (clip.mp4): category: 'fireworks'"),
        ([GOOD], False, "entry 1 (clip.mp4): clip"),
        ([{**GOOD, "events": [{"t_start_s": 1}]}], True, "events.0.approx_box_normalized"),
        (
            [{**GOOD, "events": [{"t_start_s": 1, "approx_box_normalized": [0.5, 0.1, 0.2, 0.3]}]}],
            True,
            "x1 < x2",
        ),
        ([{**GOOD, "category": "negative"}], True, "a negative clip has no events"),
        ([{**GOOD, "events": []}], True, "needs at least one event"),
        ([{**GOOD, "zones": [{"purpose": "nowhere", "polygon": []}]}], True, "zones: zone 'z1'"),
        ([GOOD, GOOD], True, "labels.json:19: entry 2 (clip.mp4): the same clip as entry 1"),
        ([], True, "lists no clips"),
    ],
)
def test_bad_labels_name_the_entry_and_key(
    tmp_path: Path, entries: Any, clip: bool, message: str
) -> None:
    path = write(tmp_path, entries, clip)
    with pytest.raises(LabelsError, match=None) as err:
        load_labels(path)
    assert message in str(err.value)
    # The CLI turns it into a clear error, exits non-zero and writes nothing.
    out = tmp_path / "out.json"
    result = CliRunner().invoke(eval_cmd, [str(path), "--json", str(out)])
    assert result.exit_code == 1 and message in result.output
    assert not out.exists()


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, [{**GOOD, "category": "x"}, {"category": "parking"}])
    with pytest.raises(LabelsError) as err:
        load_labels(path)
    text = str(err.value)
    assert "entry 1 (clip.mp4): category" in text and "entry 2: file: Field required" in text
    assert "labels.json:3: entry 1" in text  # the line of the entry's file key


def test_missing_labels_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(eval_cmd, [str(tmp_path / "nope.json")])
    assert result.exit_code == 1 and "no such labels file" in result.output


def test_unreadable_clip_is_a_clear_error(tmp_path: Path) -> None:
    path = write(tmp_path, [GOOD])
    (tmp_path / "clip.mp4").write_bytes(b"not a video")
    result = CliRunner().invoke(eval_cmd, [str(path)])
    assert result.exit_code == 1 and "cannot read video" in result.output


@pytest.mark.yolo
def test_eval_on_the_composed_scenes(
    scenes: Path, weights_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CI figure: every composed incident found, nothing false, nothing ENDed early."""
    monkeypatch.setenv("GRIDWATCH_WEIGHTS_DIR", str(weights_dir))
    out = tmp_path / "eval.json"
    args = [str(scenes / "labels.json"), "--jobs", "2", "--json", str(out)]
    args += ["--evidence-dir", str(tmp_path / "ev")]
    result = CliRunner().invoke(eval_cmd, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    keys = {"clips", "incidents", "hits", "recall", "starts", "false_events", "precision"}
    keys |= {"premature_ends", "negative_hours", "false_per_camera_hour"}
    keys |= {"median_time_to_detect_s", "per_clip"}
    assert keys <= set(doc)
    assert doc["clips"] == 5 and doc["incidents"] == 3
    assert doc["recall"] == 1.0 and doc["false_events"] == 0 and doc["precision"] == 1.0
    # Nothing ENDs while its object still lies there through five held minutes.
    assert doc["premature_ends"] == 0
    assert doc["negative_hours"] > 0 and doc["false_per_camera_hour"] == 0.0
    for row in doc["per_clip"]:
        assert {"file", "category", "hits", "false_events", "premature_ends", "events"} <= set(row)
        if row["category"] != "negative":
            assert row["replayed_file"].endswith("_held.mp4") and row["replayed_s"] > 300
    assert "dumping" in result.output and "ALL" in result.output
