"""One camera's PyAV loop: connect, sample, decode, shrink, publish; reconnect on failure.

A :class:`Reader` runs in a thread of a worker process (many per process: the waiting and
the decoding happen in FFmpeg without the GIL). It opens RTSP over TCP with short probe
settings and socket timeouts, feeds the decoder only what :class:`Sampler` asks for,
converts a due frame once to BGR at the analysis size (in swscale) and writes it into the
camera's :class:`FrameSlot`. Failures back off exponentially with jitter; a 401 backs off
longer. A watchdog (see :meth:`Reader.check_watchdog`, called by the worker) marks a
stream that stopped without closing as stalled.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import av
from av.video.reformatter import VideoReformatter

from edge_agent.config import IngestConfig
from edge_agent.ingest.decoding import FrameDecoder
from edge_agent.ingest.frames import CameraSource, FrameSlot, analysis_size
from edge_agent.ingest.health import CameraHealth, CameraStats
from edge_agent.ingest.sampling import Mode, Sampler
from gridwatch.probe import ProbeFailure, classify_error
from gridwatch.protocol import CameraState
from gridwatch.secrets import mask_url, redact

log = logging.getLogger(__name__)

AUTH_BACKOFF_FACTOR = 10.0  # a wrong password will not fix itself in a second


class Backoff:
    """Exponential backoff with jitter: ``initial × 2ⁿ`` capped at ``maximum``, × 0.5-1.0."""

    def __init__(self, initial_s: float, maximum_s: float, rng: random.Random | None = None):
        self.initial_s = initial_s
        self.maximum_s = max(maximum_s, initial_s)
        self.failures = 0
        self._rng = rng or random.Random()

    def next_delay(self, factor: float = 1.0) -> float:
        base = min(self.maximum_s, self.initial_s * factor * 2**self.failures)
        self.failures = min(self.failures + 1, 30)
        return base * self._rng.uniform(0.5, 1.0)

    def reset(self) -> None:
        self.failures = 0


class StreamEnded(Exception):
    """The server closed the stream (an empty packet): reconnect."""


class Stalled(Exception):
    """Packets flow but no frame came for longer than the watchdog allows: reconnect."""


HealthSink = Callable[[CameraHealth], None]
FrameSink = Callable[[str, float], None]


class Reader:
    """Reads one camera until :meth:`stop`; reports health changes and frames to sinks."""

    def __init__(
        self,
        source: CameraSource,
        slot: FrameSlot,
        config: IngestConfig,
        stats: CameraStats,
        on_health: HealthSink,
        on_frame: FrameSink,
        on_error: Callable[[str, str], None] | None = None,
    ) -> None:
        self.source = source
        self.slot = slot
        self.config = config
        self.stats = stats
        self.sampler = Sampler(source.analysis_interval_s)
        self.masked_url = mask_url(source.url)
        self._on_health = on_health
        self._on_frame = on_frame
        self._on_error = on_error
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._backoff = Backoff(config.backoff_initial_s, config.backoff_max_s)
        self.health = CameraHealth(source.camera_id, CameraState.CONNECTING, time.time())
        self._last_frame = time.monotonic()  # watchdog clock: frames, or the last attempt
        self._opened = False
        self._error_reported = False
        self.watchdog_s = max(config.watchdog_s, 3 * source.analysis_interval_s)
        self._reformatter = VideoReformatter()

    # -- control -----------------------------------------------------------------------

    def start(self, after: threading.Thread | None = None) -> None:
        """Run in a daemon thread; ``after``: a previous reader of this slot to wait for."""
        self._thread = threading.Thread(
            target=self._run, args=(after,), name=f"reader-{self.source.camera_id}", daemon=True
        )
        self._thread.start()

    def stop(self) -> threading.Thread | None:
        """Ask the thread to end (it may sit in a blocking read until the read timeout)."""
        self._stop.set()
        return self._thread

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def check_watchdog(self, now: float | None = None) -> None:
        """Mark the camera stalled when no frame came for ``watchdog_s`` while it was online."""
        now = time.monotonic() if now is None else now
        if self.health.state is CameraState.ONLINE and now - self._last_frame > self.watchdog_s:
            self._set(CameraState.STALLED, f"no frame for {now - self._last_frame:.0f} s")

    # -- the loop ----------------------------------------------------------------------

    def _run(self, after: threading.Thread | None) -> None:
        if after is not None:
            after.join()
        try:
            while not self._stop.is_set():
                try:
                    delay = self._session()
                except Exception as exc:  # a bug, not a camera problem
                    delay = self._internal_error(exc)
                self._stop.wait(delay)
        finally:
            self.slot.close()  # this reader's own mapping; the pool owns the segment

    def _internal_error(self, exc: Exception) -> float:
        """Report the first unexpected error (once), keep the camera offline, retry slowly."""
        message = redact(f"{type(exc).__name__}: {exc}".replace(self.source.url, "<url>"))
        self._set(CameraState.OFFLINE, f"internal error: {message}")
        if not self._error_reported:
            self._error_reported = True
            log.error("reader for camera %s failed: %s", self.source.camera_id, message)
            if self._on_error is not None:
                self._on_error(self.source.camera_id, message)
        return self._backoff.next_delay() + self.config.backoff_max_s / 2

    def _session(self) -> float:
        """One connection from open to failure; returns how long to wait before the next."""
        if self.health.state not in (CameraState.STALLED, CameraState.AUTH_FAILED):
            self._set(CameraState.CONNECTING, f"connecting to {self.masked_url}")
        self._last_frame = time.monotonic()
        try:
            container = self._open()
        except (av.FFmpegError, OSError) as exc:
            return self._failed(exc, opening=True)
        try:
            with container:
                self._read(container)
            return self._ended("the server ended the stream", None)
        except StreamEnded as exc:
            return self._ended(str(exc) or "the server ended the stream", None)
        except Stalled as exc:
            return self._ended(str(exc), CameraState.STALLED)
        except (av.FFmpegError, OSError) as exc:
            return self._failed(exc, opening=False)

    def _open(self) -> Any:
        cfg = self.config
        options = {
            "rtsp_transport": "tcp",
            "timeout": str(int(cfg.read_timeout_s * 1_000_000)),  # socket I/O, microseconds
            "analyzeduration": "0",
            "probesize": "32",
        }
        return av.open(
            self.source.url, options=options, timeout=(cfg.open_timeout_s, cfg.read_timeout_s)
        )

    def _read(self, container: Any) -> None:
        if not container.streams.video:
            raise StreamEnded("the stream has no video track")
        stream = container.streams.video[0]
        decoder = FrameDecoder(stream, self.source.camera_id)  # fresh per keyframe: memory
        time_base = float(stream.time_base) if stream.time_base else None
        self.sampler.reset()
        if self._opened:
            self.stats.reconnects += 1
        self._opened = True
        size: tuple[int, int] | None = None
        for packet in container.demux(stream):
            if self._stop.is_set():
                return
            if packet.size == 0:
                raise StreamEnded
            self.stats.packets += 1
            self.stats.keyframes += packet.is_keyframe
            t = packet.pts * time_base if packet.pts is not None and time_base else None
            if self.sampler.on_packet(t, packet.is_keyframe):
                size = self._decode(decoder, packet, t, size)
            self.stats.mode, self.stats.gop_s = self.sampler.mode.value, self.sampler.gop_s
            if time.monotonic() - self._last_frame > self.watchdog_s:
                raise Stalled(f"packets but no frame for {self.watchdog_s:g} s")

    def _decode(
        self, decoder: FrameDecoder, packet: Any, t: float | None, size: tuple[int, int] | None
    ) -> tuple[int, int] | None:
        """Decode one packet, publish its due frame; returns the analysis size.

        Its own function so that no decoded frame outlives it: a frame still referenced
        until the next packet keeps its decoder's frame pool alive (measured: 3 MB per
        camera at 1080p, in every worker).
        """
        keep = self.sampler.mode is Mode.ALL
        for frame in decoder.decode(packet, keep=keep):
            self.stats.decoded += 1
            if self.sampler.take(t):
                size = size or self._target_size(frame.width, frame.height)
                self._publish(frame, size, t, packet.is_keyframe)
        return size

    def _target_size(self, width: int, height: int) -> tuple[int, int]:
        return analysis_size(width, height, self.config.analysis_max_side)

    def _publish(self, frame: Any, size: tuple[int, int], t: float | None, key: bool) -> None:
        # One swscale context per camera, one thread, area averaging (we only shrink).
        # PyAV's default (threads=0: as many as there are cores, set up per call) cost
        # 5.4 ms per 720p frame here, this 1.7 ms (benchmarks/README.md, ingest CPU).
        bgr = self._reformatter.reformat(
            frame,
            format="bgr24",
            width=size[0],
            height=size[1],
            interpolation="AREA",
            threads=1,
        )
        image = bgr.to_ndarray()
        now = time.time()
        if self._stop.is_set():
            return  # a replacement reader may own the slot soon
        if self.slot.write(image, pts_s=t if t is not None else 0.0, t_wall=now, keyframe=key):
            self.stats.dropped += 1
        self.stats.delivered += 1
        self._last_frame = time.monotonic()
        self._backoff.reset()
        if self.health.state is not CameraState.ONLINE:
            self._set(CameraState.ONLINE, None, last_frame_at=now)
        else:
            self.health = _replace_last_frame(self.health, now)
        self._on_frame(self.source.camera_id, now)

    # -- outcomes ----------------------------------------------------------------------

    def _failed(self, exc: BaseException, *, opening: bool) -> float:
        reason = classify_error(exc)
        text = redact(str(exc).replace(self.source.url, self.masked_url))
        what = "cannot open" if opening else "reading"
        message = f"{what} {self.masked_url}: {reason.value}: {text}"
        if reason is ProbeFailure.AUTH_FAILED:
            self._set(CameraState.AUTH_FAILED, message)
            return self._backoff.next_delay(AUTH_BACKOFF_FACTOR)
        stalled = self.health.state is CameraState.STALLED
        vague = reason in (ProbeFailure.TIMEOUT, ProbeFailure.ERROR)
        if (stalled and vague) or (not opening and reason is ProbeFailure.TIMEOUT):
            # Still no answer from a frozen server: it stays stalled, not offline.
            self._set(CameraState.STALLED, message)
        else:
            self._set(CameraState.OFFLINE, message)
        return self._backoff.next_delay()

    def _ended(self, message: str, state: CameraState | None) -> float:
        self._set(state or CameraState.OFFLINE, f"{self.masked_url}: {message}")
        return self._backoff.next_delay()

    def _set(
        self, state: CameraState, reason: str | None, last_frame_at: float | None = None
    ) -> None:
        old = self.health
        if old.state is state and old.reason == reason:
            return
        self.health = CameraHealth(
            camera_id=self.source.camera_id,
            state=state,
            since=time.time() if old.state is not state else old.since,
            reason=redact(reason)[:500] if reason else None,
            last_frame_at=last_frame_at or old.last_frame_at,
        )
        self._on_health(self.health)


def _replace_last_frame(health: CameraHealth, t: float) -> CameraHealth:
    return CameraHealth(health.camera_id, health.state, health.since, health.reason, t)
