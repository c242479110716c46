"""Per-camera health and counters, as readers report them and the pool aggregates them.

Health states are :class:`gridwatch.protocol.CameraState`; reasons are always masked
(they come from FFmpeg messages that may quote the URL with its password).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from gridwatch.protocol import CameraState, CameraStatus
from gridwatch.secrets import redact

MAX_REASON = 500  # CameraStatus.reason's limit


@dataclass(frozen=True)
class CameraHealth:
    """One camera's state, why (masked), its last frame (Unix time) and since when."""

    camera_id: str
    state: CameraState
    since: float
    reason: str | None = None
    last_frame_at: float | None = None

    def to_status(self) -> CameraStatus:
        """The wire form for heartbeats."""
        reason = redact(self.reason)[:MAX_REASON] if self.reason else None
        return CameraStatus(
            camera_id=self.camera_id,
            state=self.state,
            reason=reason,
            last_frame_at=self.last_frame_at,
            since=self.since,
        )


@dataclass
class CameraStats:
    """Counters of one camera since the pool started (they survive reconnects and restarts).

    ``mode`` is the sampler's mode (learning / keyframes / all) and ``gop_s`` the measured
    keyframe interval, both as last reported.
    """

    packets: int = 0
    keyframes: int = 0
    decoded: int = 0
    delivered: int = 0  # written to the slot
    dropped: int = 0  # overwritten in the slot before the consumer took it
    reconnects: int = 0
    mode: str = "learning"
    gop_s: float | None = None

    COUNTERS = ("packets", "keyframes", "decoded", "delivered", "dropped", "reconnects")

    def add(self, other: CameraStats) -> None:
        """Add ``other``'s counters to these (mode and GOP are taken from ``other``)."""
        for name in self.COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.mode, self.gop_s = other.mode, other.gop_s

    def plus(self, other: CameraStats) -> CameraStats:
        total = CameraStats(**{f.name: getattr(self, f.name) for f in fields(self)})
        total.add(other)
        return total


@dataclass
class WorkerStats:
    """One worker slot: its current process, CPU seconds over all its processes, restarts."""

    index: int
    pid: int | None
    cpu_s: float
    cameras: int
    restarts: int


@dataclass
class IngestStats:
    """What :meth:`IngestPool.stats` returns: per camera, per worker and totals."""

    cameras: dict[str, CameraStats] = field(default_factory=dict)
    workers: list[WorkerStats] = field(default_factory=list)

    @property
    def totals(self) -> CameraStats:
        total = CameraStats()
        for stats in self.cameras.values():
            for name in CameraStats.COUNTERS:
                setattr(total, name, getattr(total, name) + getattr(stats, name))
        return total

    @property
    def cpu_s(self) -> float:
        return sum(w.cpu_s for w in self.workers)
