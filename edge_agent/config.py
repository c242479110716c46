"""Typed configuration of the edge agent (the ``edge:`` section of gridwatch.yaml).

Light on purpose: only pydantic, so ``gridwatch config check`` never imports torch.
Each sub-section belongs to the stage of the pipeline that reads it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from gridwatch.sections import Section


class IngestConfig(Section):
    """Stream readers (edge_agent/ingest)."""

    workers: int = Field(2, ge=1, le=64, description="Reader processes; cameras spread over them.")
    open_timeout_s: float = Field(5.0, gt=0, le=60)
    read_timeout_s: float = Field(5.0, gt=0, le=60)
    watchdog_s: float = Field(10.0, gt=0, le=600, description="No frame for this long: stalled.")
    backoff_initial_s: float = Field(1.0, gt=0, le=60)
    backoff_max_s: float = Field(60.0, gt=0, le=3600)
    analysis_max_side: int = Field(960, ge=160, le=4096, description="Frames are shrunk to this.")
    registry_poll_s: float = Field(10.0, gt=0, le=3600, description="How often to re-read cameras.")


class MotionConfig(Section):
    """Motion gate (edge_agent/motion.py)."""

    enabled: bool = True
    width: int = Field(64, ge=8, le=640, description="Width of the small grey copy compared.")
    pixel_threshold: int = Field(18, ge=1, le=255, description="Grey-level change that counts.")
    min_changed_fraction: float = Field(
        0.002, ge=0, le=1, description="Changed share to count as motion."
    )
    max_skip_s: float = Field(30.0, ge=0, description="Detect anyway after this long without.")


class StaticConfig(Section):
    """Static objects: things that appear and stay (edge_agent/static/).

    Two backgrounds on a small colour copy of each frame: a long-term one that learns
    only where nothing new stands (so an object that stays is never forgotten) and a
    short-term one that follows everything within seconds. Pixels that differ from the
    long-term background but no longer from the short-term one have stopped there.
    """

    enabled: bool = Field(True, description="Find static objects (also those no class names).")
    background: Literal["dual", "mog2"] = Field(
        "dual",
        description="dual: our selective dual background; mog2: OpenCV's MOG2 in both roles "
        "(kept for comparison: it learns objects in).",
    )
    width: int = Field(
        320, ge=64, le=960, description="Width of the colour copy the backgrounds work on."
    )
    long_tau_s: float = Field(
        300.0, gt=0, le=86_400, description="Long-term background: time constant where empty."
    )
    short_tau_s: float = Field(
        4.0, gt=0, le=600, description="Short-term background: time constant (follows all)."
    )
    threshold: int = Field(18, ge=1, le=255, description="Colour change that counts (0-255).")
    static_s: float = Field(
        4.0, ge=0, le=600, description="Pixels must have stopped this long to form an object."
    )
    min_area: float = Field(
        0.0006, ge=0, le=1, description="Smallest object, as a share of the frame area."
    )
    max_area: float = Field(0.25, gt=0, le=1, description="Larger regions: light changes.")
    merge_gap: float = Field(
        0.35, ge=0, le=5, description="Fragments closer than this × their size are one object."
    )
    ghost_margin: float = Field(
        0.1,
        ge=0,
        le=1,
        description="A region whose outline lost this share more of the background's edges "
        "than it gained is a ghost (where something stood before): learnt in at once.",
    )
    absorb_after_s: float = Field(
        1800.0,
        gt=0,
        le=7 * 86_400,
        description="A static region no incident holds is learnt into the background after this.",
    )
    second_look: bool = Field(True, description="Run the detector on a crop of each new object.")
    second_look_imgsz: int = Field(320, ge=64, le=1280, description="Detector size for crops.")
    second_look_every_s: float = Field(
        60.0, gt=0, le=86_400, description="Look again at an unnamed object this often."
    )


class DetectorConfig(Section):
    """Batched YOLO (edge_agent/detector.py)."""

    model: str | None = Field(
        None, description="Name in models/catalogue.yaml (default: the catalogue's default)."
    )
    device: Literal["auto", "cpu", "cuda"] = "auto"
    export: Literal["none", "onnx", "tensorrt"] = "none"
    batch_size: int = Field(8, ge=1, le=256)
    confidence: float = Field(0.25, gt=0, lt=1)
    imgsz: int | None = Field(None, ge=64, le=2048, description="Default: the catalogue's size.")


class EvidenceConfig(Section):
    """Evidence images and clips (edge_agent/evidence.py)."""

    jpeg_quality: int = Field(85, ge=30, le=100)
    clip_frames: int = Field(12, ge=0, le=120, description="Frames kept per camera for clips.")
    clip_jpeg_quality: int = Field(
        70,
        ge=30,
        le=95,
        description="The clip's frames wait as JPEGs of this quality (edge_agent/clip_ring.py).",
    )
    clip_max_bytes: int = Field(2_000_000, ge=10_000, le=8_000_000)


class DeliveryConfig(Section):
    """Outbox and ZeroMQ publisher (edge_agent/outbox.py, edge_agent/publisher.py)."""

    @model_validator(mode="after")
    def _drop_order(self) -> DeliveryConfig:
        if self.outbox_drop_images_at < self.outbox_drop_clips_at:
            raise ValueError(
                "outbox_drop_images_at must be at least outbox_drop_clips_at "
                "(clips go before images)"
            )
        return self

    aggregator: str = Field("tcp://127.0.0.1:5555", description="The aggregator's endpoint.")
    outbox: Path | None = Field(
        None, description="SQLite outbox; default data_dir/outbox-<node>.db."
    )
    outbox_sync: Literal["full", "normal"] = Field(
        "full",
        description="full: each event survives a power cut (an fsync per event); "
        "normal: survives a process crash, not a power cut (about 8x faster).",
    )
    outbox_warn_events: int = Field(50_000, ge=1, description="Warn loudly above this backlog.")
    outbox_max_bytes: int = Field(
        4 * 2**30,
        ge=2**20,
        description="Bound on what the outbox holds (payloads + evidence); near it evidence "
        "is dropped, clips first, never an event (edge_agent/outbox.py).",
    )
    outbox_drop_clips_at: float = Field(
        0.8, gt=0, le=1, description="Drop clips (oldest first) above this share of the bound."
    )
    outbox_drop_images_at: float = Field(
        0.95, gt=0, le=1, description="Drop images too above this share of the bound."
    )
    resend_after_s: float = Field(5.0, gt=0, le=600)
    max_in_flight: int = Field(
        1000, ge=1, le=100_000, description="Events sent and not yet acked, at most."
    )
    heartbeat_s: float = Field(5.0, gt=0, le=600)
    server_public_key: Path | None = Field(None, description="Aggregator's CURVE public key file.")
    client_secret_key: Path | None = Field(None, description="This agent's CURVE secret key file.")


class EdgeConfig(Section):
    node_id: str | None = Field(None, description="Default: $GRIDWATCH_NODE_ID, else the hostname.")
    rules_file: Path = Path("configs/rules.yaml")
    models_catalogue: Path = Path("models/catalogue.yaml")
    metrics_port: int = Field(
        9101, ge=0, le=65535, description="/metrics, /healthz, /readyz; 0: none."
    )
    liveness_stall_s: float = Field(
        120.0, gt=0, le=3600, description="/healthz fails when the main loop stalls this long."
    )
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    motion: MotionConfig = Field(default_factory=MotionConfig)
    static: StaticConfig = Field(default_factory=StaticConfig)
    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    evidence: EvidenceConfig = Field(default_factory=EvidenceConfig)
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)
