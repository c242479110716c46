"""`gridwatch cases list/show/transition` on real databases."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from gridwatch.cli import cli
from tests.aggregator.test_store import (
    GRID_B,
    MONDAY_10AM,
    event,
    incoming,
    make_registry,
    make_store,
)


def run(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert "hunter2" not in result.output and "rtsp://" not in result.output
    return result


def test_list_show_and_transition(db_url: str, tmp_path: Path) -> None:
    engine = make_registry(db_url)
    store = make_store(engine, tmp_path)
    parked = event(evidence=("snapshot.jpg",))
    store.commit_events(
        [
            incoming(parked, {"snapshot.jpg": b"jpeg"}),
            incoming(event(incident=parked.incident_id, t=MONDAY_10AM + 5)),
            incoming(event(camera="cam-3", code="01-02")),
        ]
    )
    listed = json.loads(run("cases", "list", "--db", db_url, "--json").output)
    assert len(listed) == 2
    first = listed[0]
    keys = "case_id event_code grid_code state event_ids grid_path camera_ids first_seen"
    assert set(f"{keys} last_seen sightings department deadline".split()) <= set(first)
    assert (first["event_code"], first["state"], first["sightings"]) == (
        "05-05",
        "pending_review",
        2,
    )
    assert first["camera_ids"] == ["cam-1"] and len(first["event_ids"]) == 2
    assert first["department"] == "交警" and first["deadline"] is None
    assert first["grid_path"].endswith("网格01")

    def ids(*args: str) -> list[int]:
        out = run("cases", "list", "--db", db_url, "--json", *args).output
        return [c["case_id"] for c in json.loads(out)]

    second = listed[1]["case_id"]
    assert ids("--grid", GRID_B) == [second] and ids("--grid", "网格02") == [second]
    assert ids("--code", "05-05") == [first["case_id"]] and ids("--camera", "cam-3") == [second]
    assert ids("--street", "岳阳街道") == [first["case_id"], second]
    assert ids("--state", "registered") == [] and ids("--overdue") == []

    case = str(first["case_id"])
    ok = run(
        "cases",
        "transition",
        case,
        "registered",
        "--db",
        db_url,
        "--note",
        "real",
        "--actor",
        "ann",
    )
    assert ok.exit_code == 0 and "pending_review → registered" in ok.output
    bad = run("cases", "transition", case, "closed", "--db", db_url, "--note", "x")
    assert bad.exit_code == 1
    assert (
        "case 1 is registered" in bad.output
        and "allowed from registered: dispatched, rejected" in bad.output
    )
    assert run("cases", "transition", case, "dispatched", "--db", db_url).exit_code == 0
    dup = run(
        "cases", "transition", str(second), "rejected", "--db", db_url, "--reason", "duplicate"
    )
    assert dup.exit_code == 1 and "--duplicate-of" in dup.output
    dup = run(
        "cases", "transition", str(second), "rejected", "--db", db_url,
        "--reason", "duplicate", "--duplicate-of", case,
    )  # fmt: skip
    assert dup.exit_code == 0, dup.output
    assert run("cases", "transition", "999", "registered", "--db", db_url).exit_code == 1

    shown = json.loads(run("cases", "show", case, "--db", db_url, "--json").output)
    assert shown["state"] == "dispatched" and shown["deadline"] is not None
    assert [s["to"] for s in shown["timeline"]] == ["pending_review", "registered", "dispatched"]
    assert shown["timeline"][1]["actor"] == "ann" and shown["timeline"][1]["note"] == "real"
    (path,) = shown["events"][0]["evidence"]
    assert path.endswith(f"{parked.event_id}/snapshot.jpg")
    table = run("cases", "show", case, "--db", db_url)
    assert table.exit_code == 0 and "timeline:" in table.output and "交警" in table.output
    assert "2 case(s)" in run("cases", "list", "--db", db_url).output
    assert run("cases", "show", "999", "--db", db_url).exit_code == 1
