"""Typed configuration of the aggregator (the ``aggregator:`` section of gridwatch.yaml)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from gridwatch.sections import Section


class ReceiverConfig(Section):
    """ZeroMQ ROUTER (aggregator/receiver.py)."""

    bind: str = Field("tcp://127.0.0.1:5555", description="Endpoint the ROUTER binds.")
    allow_remote_without_keys: bool = Field(
        False, description="Bind a non-loopback address without CURVE (not recommended)."
    )
    server_secret_key: Path | None = Field(None, description="CURVE secret key file.")
    authorized_keys: Path | None = Field(None, description="Folder of agents' public key files.")
    commit_batch: int = Field(
        2000, ge=1, le=100_000, description="Commit when this many events wait (or are old)."
    )
    commit_max_wait_ms: float = Field(
        20.0, ge=0, le=10_000, description="Commit when the oldest waiting event is this old."
    )


class FailoverConfig(Section):
    """Edge node failover (aggregator/liveness.py): the alive list told to the agents."""

    enabled: bool = Field(
        True, description="Answer heartbeats with the alive nodes, so agents cover dead ones."
    )
    node_timeout_s: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="T: a node not heard for this long is dead and its cameras move.",
    )


class CaseConfig(Section):
    """Case matching (aggregator/cases.py)."""

    window_s: float = Field(3600.0, gt=0, description="An event joins a case seen this recently.")
    min_box_iou: float = Field(0.2, ge=0, le=1, description="Overlap that makes two sightings one.")


class SuppressionConfig(Section):
    """Known false positives (aggregator/suppression.py): what a rejection teaches a camera."""

    enabled: bool = Field(True, description="Learn from rejections and hold look-alikes back.")
    ttl_s: float = Field(
        14 * 86400.0,
        gt=0,
        le=366 * 86400.0,
        description="A rejection holds back look-alikes this long (an engineer may lift it).",
    )
    min_box_iou: float = Field(
        0.3, gt=0, le=1, description="Overlap with the rejected boxes that counts as the place."
    )
    min_similarity: float = Field(
        0.7, gt=0, le=1, description="Appearance similarity (0..1) that counts as the same look."
    )


class HealthConfig(Section):
    """Camera health (aggregator/health.py)."""

    offline_case_after_s: float = Field(
        900.0, gt=0, description="Silent this long: maintenance case."
    )


class WebConfig(Section):
    """The operator web UI and API (aggregator/web)."""

    session_hours: float = Field(12.0, gt=0, le=24 * 30, description="Login session lifetime.")
    cookie_secure: bool = Field(
        False, description="Send the session cookie over HTTPS only (set behind TLS)."
    )
    login_attempts: int = Field(
        5, ge=1, le=1000, description="Failed logins per username (and 4x per IP) per window."
    )
    login_window_s: float = Field(300.0, gt=0, description="Window of the login rate limit.")


class StorageConfig(Section):
    """A full evidence volume or database (aggregator/storage.py)."""

    retry_s: float = Field(
        5.0, gt=0, le=600, description="While storage is full, try a commit this often."
    )


class RetentionConfig(Section):
    """What is deleted, and when (aggregator/retention.py). Nothing an open case needs
    (any case not closed or rejected, and one closed less than ``closed_case_days`` ago)
    is ever deleted."""

    every_s: float = Field(
        3600.0,
        ge=0,
        description="Run retention this often inside the aggregator; 0: never (run "
        "`gridwatch retention run` from cron or a Kubernetes CronJob).",
    )
    clip_days: float = Field(30.0, gt=0, description="Clips of older events are deleted.")
    closed_case_days: float = Field(
        30.0,
        ge=0,
        description="The evidence (images and clips) of a case closed or rejected this long "
        "ago is deleted.",
    )
    caseless_days: float = Field(
        30.0, gt=0, description="Images of events that belong to no case are kept this long."
    )
    sighting_days: float = Field(
        90.0,
        gt=0,
        description="Older event rows (of cases settled closed_case_days ago, or of none) "
        "become hourly counts per case in sighting_counts, then are deleted.",
    )
    batch: int = Field(500, ge=1, le=10_000, description="Events per transaction.")
    stats_every_s: float = Field(
        600.0,
        ge=0,
        description="Refresh the evidence bytes/files and rows-per-table gauges this often "
        "(they count whole tables; 0: only after each retention run).",
    )


class AggregatorConfig(Section):
    evidence_dir: Path | None = Field(None, description="Default: data_dir/evidence.")
    event_types_file: Path = Path("configs/event_types.yaml")
    metrics_port: int = Field(9100, ge=0, le=65535, description="0: no metrics endpoint.")
    receiver: ReceiverConfig = Field(default_factory=ReceiverConfig)
    cases: CaseConfig = Field(default_factory=CaseConfig)
    failover: FailoverConfig = Field(default_factory=FailoverConfig)
    health: HealthConfig = Field(default_factory=HealthConfig)
    suppression: SuppressionConfig = Field(default_factory=SuppressionConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
