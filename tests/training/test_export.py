"""``dataset export`` on real databases: confirmed events are positives, false positives
hard negatives, other rejections and frameless events left out; split by camera; YOLO
labels in the clean frame's pixels; a card with counts per class, camera, street, month."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from aggregator.workflow import CaseState, transition_case
from gridwatch.cli import cli
from gridwatch.protocol import FramePayload, PixelBox
from tests.aggregator.test_store import MONDAY_10AM, event, incoming, make_registry, make_store

BOX = (192, 252, 256, 324)  # pixels of a 640x360 frame
NORM = (0.3, 0.7, 0.4, 0.9)


def jpeg(seed: int) -> bytes:
    image = np.random.default_rng(seed).integers(0, 255, (360, 640, 3), dtype=np.uint8)
    ok, data = cv2.imencode(".jpg", image)
    assert ok
    return data.tobytes()


def commit(store, camera: str, code: str, t: float, word: str, frame: bool = True) -> int:  # type: ignore[no-untyped-def]
    payload = event(camera=camera, code=code, t=t, boxes=(NORM,))
    boxes = [b.model_copy(update={"cls": word}) for b in payload.boxes]
    blobs = {"snapshot.jpg": jpeg(int(t) % 1000)}
    update: dict[str, object] = {"boxes": boxes, "evidence": ["snapshot.jpg"]}
    if frame:
        update["frame"] = FramePayload(
            width=640, height=360,
            boxes=[PixelBox(cls=word, conf=0.6, xyxy=BOX)],
            seen=[PixelBox(cls="person", conf=0.9, xyxy=(400, 60, 460, 300))],
            signature=None,
        )  # fmt: skip
        update["evidence"] = ["snapshot.jpg", "frame.jpg"]
        blobs["frame.jpg"] = jpeg(int(t) % 1000 + 1)
    payload = payload.model_copy(update=update)
    store.commit_events([incoming(payload, blobs)])
    with store.engine.connect() as conn:
        from sqlalchemy import select

        from aggregator.models import EVENTS

        return int(
            conn.execute(
                select(EVENTS.c.case_id).where(EVENTS.c.event_id == payload.event_id)
            ).scalar_one()
        )


def review(store, case_id: int, target: CaseState, reason: str | None = None) -> None:  # type: ignore[no-untyped-def]
    transition_case(store.engine, case_id, target, actor="op", types=store.types, reason=reason,
                    now=MONDAY_10AM + 7200)  # fmt: skip


@pytest.fixture
def reviewed(db_url: str, tmp_path: Path) -> tuple[str, Path]:
    store = make_store(make_registry(db_url), tmp_path)
    t = MONDAY_10AM
    review(store, commit(store, "cam-1", "01-03", t, "object"), CaseState.REGISTERED)
    review(store, commit(store, "cam-3", "05-05", t + 60, "car"), CaseState.REGISTERED)
    review(store, commit(store, "cam-2", "01-03", t + 120, "object"), CaseState.REJECTED,
           "false_positive")  # fmt: skip
    review(store, commit(store, "cam-2", "05-01", t + 180, "umbrella"), CaseState.REJECTED,
           "not_our_business")  # fmt: skip
    review(store, commit(store, "cam-3", "01-02", t + 240, "bag", frame=False),
           CaseState.REGISTERED)  # fmt: skip
    commit(store, "cam-1", "05-05", t + 300, "car")  # still pending: not reviewed
    return db_url, tmp_path / "evidence"


def test_export_writes_a_yolo_dataset_split_by_camera(
    reviewed: tuple[str, Path], tmp_path: Path, repo: Path
) -> None:
    db_url, evidence = reviewed
    out = tmp_path / "ds"
    result = CliRunner().invoke(
        cli,
        ["dataset", "export", "--out", str(out), "--db", db_url, "--evidence-dir", str(evidence),
         "--vocabulary", str(repo / "configs/training.yaml"), "--val-fraction", "0.34"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = yaml.safe_load((out / "data.yaml").read_text())
    names = data["names"]
    assert names[0] == "pile" and data["nc"] == len(names) and "path" not in data
    card = json.loads((out / "dataset.json").read_text())
    assert card["totals"]["images"] == 3
    assert card["totals"]["positive"] == 2 and card["totals"]["negative"] == 1
    # Each camera's images sit in one split, and both splits have some.
    splits = {cam: row["splits"] for cam, row in card["per_camera"].items()}
    assert all(len(s) == 1 for s in splits.values()) and len(splits) == 3
    assert {s[0] for s in splits.values()} == {"train", "val"}
    assert card["per_month"]["2026-11"]["images"] == 3
    assert list(card["per_street"]) == ["310117001 岳阳街道"]
    assert card["skipped"] == {"no clean frame (agent before protocol v3)": 1}
    classes = {c["name"]: c for c in card["classes"]}
    assert classes["pile"]["images"] == 1 and classes["car"]["images"] == 1
    assert classes["person"]["images"] == 3  # context from every frame
    # Labels: normalized YOLO lines in the frame's pixels; the false positive lost its box.
    by_kind: dict[str, list[str]] = {}
    for split in ("train", "val"):
        for label in (out / "labels" / split).glob("*.txt"):
            assert (out / "images" / split / f"{label.stem}.jpg").is_file()
            by_kind[label.stem] = label.read_text().splitlines()
    lines = sorted(by_kind.values(), key=len)
    person = names_index(names, "person")
    assert lines[0] == [f"{person} 0.671875 0.500000 0.093750 0.666667"]  # the hard negative
    pile = f"{names_index(names, 'pile')} 0.350000 0.800000 0.100000 0.200000"
    assert any(pile in ls for ls in lines)
    assert "hard" in (out / "README.md").read_text()

    again = CliRunner().invoke(cli, ["dataset", "export", "--out", str(out), "--db", db_url,
                                     "--evidence-dir", str(evidence)])  # fmt: skip
    assert again.exit_code != 0 and "not empty" in again.output
    only = CliRunner().invoke(cli, ["dataset", "export", "--out", str(tmp_path / "x"),
                                    "--db", db_url, "--evidence-dir", str(evidence),
                                    "--codes", "05-05"])  # fmt: skip
    assert only.exit_code != 0 and "at least two" in only.output  # one camera: no split


def names_index(names: dict[int, str], name: str) -> int:
    return next(i for i, n in names.items() if n == name)
