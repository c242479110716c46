"""The wire protocol between edge agents and the aggregator: the one module that owns it.

Transport: ZeroMQ. An edge agent's DEALER sends multipart messages to the aggregator's
ROUTER; the ROUTER answers on the same connection.

    frames = [envelope (UTF-8 JSON), blob 0, blob 1, ...]

The envelope is ``{"v": 2, "type": "...", "node": "<node id>", "payload": {...},
"blobs": [{"name": "snapshot.jpg", "size": 12345}, ...]}``. Blobs (the evidence JPEG
and clip) travel as separate frames so they are never base64-encoded or parsed as JSON.

Versions. ``v`` is the version its sender speaks; :func:`decode` accepts every version
from :data:`MIN_PROTOCOL_VERSION` to :data:`PROTOCOL_VERSION`. Version 2 added the
HEARTBEAT_REPLY (aggregator → edge: the nodes it hears, for failover); every payload of
version 1 is unchanged. The aggregator answers each peer in the version that peer
speaks, and sends HEARTBEAT_REPLY only to peers that speak 2, so agents of version 1
keep working next to an aggregator of version 2 (upgrade the aggregator first).
Version 3 added the optional :attr:`EventPayload.frame` (a START's clean analysis
frame as blob ``frame.jpg``, its boxes in that frame's pixels, and an appearance
signature); an event without it is a valid version 3 event, and nothing else changed.

Delivery is at-least-once: the agent keeps each event in its outbox until an ACK names
its ``event_id``; the aggregator inserts idempotently by ``event_id`` and acks only after
the commit. Anything malformed raises :class:`ProtocolError` with a short ``reason`` code
that the aggregator counts and logs.

>>> frames = encode(MessageType.ACK, AckPayload(event_ids=["a" * 32]), node="agg")
>>> decode(frames).payload.event_ids == ["a" * 32]
True
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

PROTOCOL_VERSION = 3  # what this code speaks
MIN_PROTOCOL_VERSION = 1  # the oldest version it still reads and answers
MAX_ENVELOPE_BYTES = 256 * 1024
MAX_BLOB_BYTES = 8 * 1024 * 1024
MAX_BLOBS = 4
MAX_MESSAGE_BYTES = MAX_ENVELOPE_BYTES + MAX_BLOBS * MAX_BLOB_BYTES  # a whole message
# libzmq applies ZMQ_MAXMSGSIZE to each frame: no valid frame is larger than this.
MAX_FRAME_BYTES = max(MAX_ENVELOPE_BYTES, MAX_BLOB_BYTES)

EventId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$", description="uuid4().hex")]
CameraId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
NodeId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
EventCode = Annotated[str, Field(pattern=r"^[0-9A-Za-z]{2,8}-[0-9A-Za-z]{2,8}$")]
Unit = Annotated[float, Field(ge=0.0, le=1.0)]


class MessageType(StrEnum):
    EVENT = "event"  # edge → aggregator: one detected event (+ evidence blobs)
    HEARTBEAT = "heartbeat"  # edge → aggregator: node alive, per-camera health
    ACK = "ack"  # aggregator → edge: these event ids are committed (or rejected for good)
    HEARTBEAT_REPLY = "heartbeat_reply"  # aggregator → edge (v2): the nodes it hears


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Box(Payload):
    """One detection in normalized image coordinates (0..1, origin top-left)."""

    cls: str = Field(max_length=64, description="Rule vocabulary word, e.g. 'person', 'bag'.")
    conf: float = Field(ge=0.0, le=1.0)
    xyxy: tuple[Unit, Unit, Unit, Unit]


class EventPhase(StrEnum):
    START = "start"  # the incident was detected (opens or joins a case)
    END = "end"  # the incident is over: the pile is gone, the vendor left (verifies a case)


Pixel = Annotated[int, Field(ge=0, le=65_535)]


class PixelBox(Payload):
    """A box in pixels of an event's clean frame (``FramePayload``)."""

    cls: str = Field(max_length=64, description="Vocabulary word, as in Box.")
    conf: float = Field(ge=0.0, le=1.0)
    xyxy: tuple[Pixel, Pixel, Pixel, Pixel]


class FramePayload(Payload):
    """(v3) The clean analysis frame of an event: no boxes or zone drawn on it.

    The frame travels as the blob named ``blob``; ``boxes`` are the event's own boxes
    and ``seen`` everything the detector and static objects reported on that frame,
    both in its pixels, so the frame can become a training image (``gridwatch dataset
    export``). ``signature`` is the appearance of the event's place
    (:mod:`gridwatch.appearance`), which the aggregator compares with rejected events.
    """

    blob: str = Field("frame.jpg", max_length=64)
    width: int = Field(gt=0, le=65_535)
    height: int = Field(gt=0, le=65_535)
    boxes: list[PixelBox] = Field(default_factory=list, max_length=200)
    seen: list[PixelBox] = Field(default_factory=list, max_length=500)
    signature: str | None = Field(None, max_length=1024)


class EventPayload(Payload):
    """One event found by a rule on one camera."""

    event_id: EventId
    incident_id: EventId = Field(description="Shared by an incident's start and end events.")
    phase: EventPhase = EventPhase.START
    camera_id: CameraId
    rule_id: str = Field(min_length=1, max_length=64)
    event_code: EventCode
    t_start: float = Field(ge=0, description="Unix time the object/person was first seen.")
    t_event: float = Field(ge=0, description="Unix time the rule fired (or the incident ended).")
    confidence: float = Field(ge=0.0, le=1.0)
    boxes: list[Box] = Field(default_factory=list, max_length=200)
    zone_id: str | None = Field(None, max_length=64)
    model: str = Field(max_length=128)
    evidence: list[str] = Field(
        default_factory=list,
        max_length=MAX_BLOBS,
        description="Names of the blobs that carry this event's evidence, in frame order.",
    )
    frame: FramePayload | None = Field(None, description="(v3) The clean frame; START only.")


class CameraState(StrEnum):
    CONNECTING = "connecting"
    ONLINE = "online"
    STALLED = "stalled"
    OFFLINE = "offline"
    AUTH_FAILED = "auth_failed"


class CameraStatus(Payload):
    camera_id: CameraId
    state: CameraState
    reason: str | None = Field(None, max_length=500, description="Masked: never a password.")
    last_frame_at: float | None = None
    since: float | None = Field(None, description="Unix time the camera entered this state.")


class EvidenceDropped(Payload):
    """Evidence an edge outbox dropped to stay within its bound (counts since it began)."""

    clips: int = Field(0, ge=0)
    images: int = Field(0, ge=0)


class OutboxStatus(Payload):
    """An edge node's outbox against its bound (``edge.delivery.outbox_max_bytes``)."""

    events: int = Field(ge=0, description="Events waiting (never dropped).")
    bytes: int = Field(ge=0, description="Payload and evidence bytes held.")
    max_bytes: int = Field(ge=0, description="The bound (0: none).")
    dropped: EvidenceDropped = Field(default_factory=EvidenceDropped)
    dropped_by_camera: dict[CameraId, EvidenceDropped] = Field(
        default_factory=dict, max_length=20_000, description="Only cameras with drops."
    )


class HeartbeatPayload(Payload):
    node_id: NodeId
    sent_at: float
    cameras: list[CameraStatus] = Field(default_factory=list, max_length=20_000)
    stats: dict[str, float] = Field(default_factory=dict)
    outbox: OutboxStatus | None = Field(
        None,
        description="Optional: agents that predate bounded outboxes send none, and the "
        "aggregator reads their heartbeats as before.",
    )


class Rejection(Payload):
    event_id: EventId
    reason: str = Field(max_length=200)


class AckPayload(Payload):
    event_ids: list[EventId] = Field(default_factory=list, max_length=10_000)
    rejected: list[Rejection] = Field(default_factory=list, max_length=10_000)


class HeartbeatReplyPayload(Payload):
    """The aggregator's answer to a heartbeat (protocol version 2): which nodes are alive.

    ``alive_nodes`` are the nodes it heard from within the last ``node_timeout_s``
    seconds. Edge agents run rendezvous hashing over the configured nodes that are in
    this list (always including themselves), so a dead node's cameras spread over the
    others and go back when it returns. An aggregator that has run for less than
    ``node_timeout_s`` has not heard every live node yet and sends no reply.
    """

    alive_nodes: list[NodeId] = Field(max_length=10_000)
    node_timeout_s: float = Field(gt=0)
    sent_at: float


PAYLOADS: dict[MessageType, type[Payload]] = {
    MessageType.EVENT: EventPayload,
    MessageType.HEARTBEAT: HeartbeatPayload,
    MessageType.ACK: AckPayload,
    MessageType.HEARTBEAT_REPLY: HeartbeatReplyPayload,
}


class ProtocolError(ValueError):
    """A message that cannot be accepted. ``reason`` is a short code for metrics.

    Recover by dropping the message (and counting it); never by closing the socket.
    Reasons: empty, too_large, not_json, bad_envelope, bad_version, bad_type, schema,
    blob_mismatch.
    """

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        super().__init__(f"{reason}: {detail}")


@dataclass(frozen=True)
class Message:
    type: MessageType
    node: str
    payload: Any  # the Payload subclass for ``type``
    blobs: dict[str, bytes] = field(default_factory=dict)
    version: int = PROTOCOL_VERSION  # the version its sender speaks


# The first version that has each message type (older peers must never be sent it).
SINCE_VERSION: dict[MessageType, int] = {MessageType.HEARTBEAT_REPLY: 2}


def encode(
    msg_type: MessageType,
    payload: Payload,
    *,
    node: str,
    blobs: dict[str, bytes] | None = None,
    version: int = PROTOCOL_VERSION,
) -> list[bytes]:
    """Frames for one message: the JSON envelope, then each blob.

    ``version`` is the envelope's ``v``: answer a peer in the version it speaks.
    """
    if not MIN_PROTOCOL_VERSION <= version <= PROTOCOL_VERSION:
        raise ProtocolError("bad_version", f"cannot speak version {version}")
    if version < SINCE_VERSION.get(msg_type, MIN_PROTOCOL_VERSION):
        raise ProtocolError("bad_version", f"{msg_type.value} does not exist in version {version}")
    blobs = blobs or {}
    if len(blobs) > MAX_BLOBS:
        raise ProtocolError("too_large", f"{len(blobs)} blobs, at most {MAX_BLOBS}")
    for name, data in blobs.items():
        if len(data) > MAX_BLOB_BYTES:
            raise ProtocolError("too_large", f"blob {name!r} is {len(data)} bytes")
    envelope = {
        "v": version,
        "type": msg_type.value,
        "node": node,
        "payload": payload.model_dump(mode="json"),
        "blobs": [{"name": n, "size": len(d)} for n, d in blobs.items()],
    }
    head = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()
    if len(head) > MAX_ENVELOPE_BYTES:
        raise ProtocolError("too_large", f"envelope is {len(head)} bytes")
    return [head, *blobs.values()]


def _envelope(frames: list[bytes]) -> dict[str, Any]:
    if not frames or not frames[0]:
        raise ProtocolError("empty", "no envelope frame")
    if len(frames[0]) > MAX_ENVELOPE_BYTES:
        raise ProtocolError("too_large", f"envelope is {len(frames[0])} bytes")
    if len(frames) - 1 > MAX_BLOBS or any(len(f) > MAX_BLOB_BYTES for f in frames[1:]):
        raise ProtocolError("too_large", "too many or too large blob frames")
    try:
        envelope = json.loads(frames[0].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError("not_json", str(exc)[:200]) from None
    if not isinstance(envelope, dict):
        raise ProtocolError("bad_envelope", "envelope is not a JSON object")
    missing = {"v", "type", "node", "payload"} - set(envelope)
    if missing:
        raise ProtocolError("bad_envelope", f"missing keys {sorted(missing)}")
    v = envelope["v"]
    if not (
        isinstance(v, int)
        and not isinstance(v, bool)
        and MIN_PROTOCOL_VERSION <= v <= PROTOCOL_VERSION
    ):
        raise ProtocolError(
            "bad_version",
            f"version {v!r}, expected {MIN_PROTOCOL_VERSION} to {PROTOCOL_VERSION}",
        )
    return envelope


def decode(frames: list[bytes]) -> Message:
    """Parse and validate one message (without the ROUTER identity frame)."""
    envelope = _envelope(frames)
    version: int = envelope["v"]
    try:
        msg_type = MessageType(envelope["type"])
    except ValueError:
        raise ProtocolError("bad_type", f"unknown message type {envelope['type']!r}") from None
    if version < SINCE_VERSION.get(msg_type, MIN_PROTOCOL_VERSION):
        raise ProtocolError("bad_type", f"{msg_type.value} does not exist in version {version}")
    node = envelope["node"]
    if not isinstance(node, str) or not node or len(node) > 64:
        raise ProtocolError("bad_envelope", "node must be a short string")
    try:
        payload = PAYLOADS[msg_type].model_validate(envelope["payload"])
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ProtocolError("schema", f"{where}: {first['msg']}") from None
    specs = envelope.get("blobs") or []
    if not isinstance(specs, list) or len(specs) != len(frames) - 1:
        raise ProtocolError(
            "blob_mismatch", f"{len(frames) - 1} blob frames, envelope lists {specs!r:.100}"
        )
    blobs: dict[str, bytes] = {}
    for spec, data in zip(specs, frames[1:], strict=True):
        if (
            not isinstance(spec, dict)
            or spec.get("size") != len(data)
            or not isinstance(spec.get("name"), str)
        ):
            raise ProtocolError(
                "blob_mismatch", f"blob spec {spec!r:.100} does not match its frame"
            )
        blobs[spec["name"]] = data
    if isinstance(payload, EventPayload) and set(payload.evidence) - set(blobs):
        raise ProtocolError("blob_mismatch", "event names evidence that was not sent")
    if isinstance(payload, EventPayload) and payload.frame and payload.frame.blob not in blobs:
        raise ProtocolError("blob_mismatch", "event names a frame that was not sent")
    return Message(msg_type, node, payload, blobs, version)
