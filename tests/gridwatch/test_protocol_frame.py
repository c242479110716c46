"""Protocol version 3: an event's clean frame travels as a blob with its pixel boxes."""

from __future__ import annotations

import json
import uuid

import pytest
from pydantic import ValidationError

from gridwatch.protocol import (
    EventPayload,
    FramePayload,
    MessageType,
    PixelBox,
    ProtocolError,
    decode,
    encode,
)


def event(frame: FramePayload | None, evidence: list[str]) -> EventPayload:
    return EventPayload(
        event_id=uuid.uuid4().hex,
        incident_id=uuid.uuid4().hex,
        camera_id="cam-1",
        rule_id="dumping",
        event_code="01-03",
        t_start=1000.0,
        t_event=1010.0,
        confidence=0.6,
        model="yolo26n",
        evidence=evidence,
        frame=frame,
    )


FRAME = FramePayload(
    width=640,
    height=360,
    boxes=[PixelBox(cls="object", conf=0.5, xyxy=(192, 278, 242, 314))],
    seen=[PixelBox(cls="person", conf=0.9, xyxy=(10, 20, 60, 200))],
    signature="a1:xyz",
)


def test_a_frame_round_trips_with_its_blob() -> None:
    payload = event(FRAME, ["snapshot.jpg", "frame.jpg"])
    frames = encode(
        MessageType.EVENT, payload, node="n1", blobs={"snapshot.jpg": b"a", "frame.jpg": b"b"}
    )
    assert json.loads(frames[0])["v"] == 3
    msg = decode(frames)
    assert msg.payload.frame == FRAME and msg.blobs["frame.jpg"] == b"b"


def test_a_frame_without_its_blob_is_refused() -> None:
    frames = encode(MessageType.EVENT, event(FRAME, ["snapshot.jpg"]), node="n1",
                    blobs={"snapshot.jpg": b"a"})  # fmt: skip
    with pytest.raises(ProtocolError) as info:
        decode(frames)
    assert info.value.reason == "blob_mismatch"


def test_events_without_a_frame_and_older_versions_still_decode() -> None:
    frames = encode(MessageType.EVENT, event(None, []), node="n1")
    env = json.loads(frames[0])
    del env["payload"]["frame"]
    env["v"] = 2  # what an agent of version 2 sends
    msg = decode([json.dumps(env).encode()])
    assert msg.version == 2 and msg.payload.frame is None


def test_pixel_boxes_are_checked() -> None:
    with pytest.raises(ValidationError):
        PixelBox(cls="car", conf=0.5, xyxy=(-1, 0, 10, 10))
    with pytest.raises(ValidationError):
        FramePayload(width=0, height=10)
