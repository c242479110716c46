"""Ingest against the real RTSP test server: modes, one slot, failures, live changes."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edge_agent.config import IngestConfig
from edge_agent.ingest import CameraSource, IngestPool
from edge_agent.ingest.frames import FrameSlot
from edge_agent.ingest.health import CameraHealth, CameraStats
from edge_agent.ingest.reader import Reader
from edge_agent.ingest.testing import make_clip
from gridwatch.protocol import CameraState
from gridwatch.scenes.server import INSTALL_HINT, RtspServer, gstreamer_available

pytestmark = [
    pytest.mark.rtsp,
    pytest.mark.skipif(
        not gstreamer_available(),
        reason=f"/usr/bin/python3 cannot import GStreamer's RTSP server (gi): {INSTALL_HINT}",
    ),
]

CONFIG = IngestConfig(
    workers=2,
    open_timeout_s=2.0,
    read_timeout_s=1.0,
    watchdog_s=2.0,
    backoff_initial_s=0.2,
    backoff_max_s=1.0,
    analysis_max_side=320,
)
PASSWORD = "s3cr3t-pw"


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("ingest-clips")
    make_clip(directory, "gop25", gop=25, seconds=4)
    make_clip(directory, "gop50", gop=50, seconds=4)
    return directory


@pytest.fixture(scope="module")
def server(clips: Path) -> Iterator[RtspServer]:
    with RtspServer(clips) as srv:
        yield srv


@pytest.fixture(scope="module")
def pool() -> Iterator[IngestPool]:
    with IngestPool(CONFIG) as p:
        yield p


def wait_for(check: Callable[[], bool], timeout_s: float, poll: IngestPool | None = None) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        if poll is not None:
            poll.poll(0.1)
        else:
            time.sleep(0.1)
    return check()


def states(pool: IngestPool) -> dict[str, CameraState]:
    return {c: h.state for c, h in pool.health().items()}


def run_readers(sources: list[CameraSource], seconds: float) -> dict[str, CameraStats]:
    """Run readers in this process (threads) for ``seconds``; their counters."""
    stats = {s.camera_id: CameraStats() for s in sources}
    slots, readers = [], []
    for source in sources:
        slot = FrameSlot.create(CONFIG.analysis_max_side)
        slots.append(slot)
        reader = Reader(
            source,
            FrameSlot.attach(slot.name),
            CONFIG,
            stats[source.camera_id],
            on_health=lambda h: None,
            on_frame=lambda c, t: None,
        )
        reader.start()
        readers.append(reader)
    time.sleep(seconds)
    threads = [r.stop() for r in readers]
    for thread in threads:
        assert thread is not None
        thread.join(5)
    for slot in slots:
        slot.close()
    return stats


def test_keyframe_only_and_decode_all_modes(server: RtspServer) -> None:
    stats = run_readers(
        [
            CameraSource("every", server.url("gop25"), 1.0),  # 1 s GOP, 1 look/s
            CameraSource("other", server.url("gop25"), 2.0),  # every other keyframe
            CameraSource("all", server.url("gop50"), 0.5),  # 2 s GOP, 2 looks/s
        ],
        seconds=6.5,
    )
    every, other, every_all = stats["every"], stats["other"], stats["all"]
    assert every.mode == "keyframes" and every.gop_s == pytest.approx(1.0, abs=0.05)
    assert every.keyframes >= 5 and every.packets >= 120
    assert every.keyframes - 1 <= every.decoded <= every.keyframes  # keyframes only
    assert every.delivered == every.decoded
    assert other.mode == "keyframes" and other.keyframes >= 5
    assert other.keyframes // 2 - 1 <= other.decoded <= (other.keyframes + 1) // 2 + 1
    assert every_all.mode == "all" and every_all.gop_s == pytest.approx(2.0, abs=0.05)
    assert every_all.decoded >= 50  # everything after the first whole GOP
    seconds_decoding = every_all.decoded / 25
    assert every_all.delivered <= 2 * seconds_decoding + 2 < every_all.decoded


def test_cameras_spread_over_two_workers_and_change_live(
    server: RtspServer, pool: IngestPool
) -> None:
    cams = [CameraSource(f"c{i}", server.url("gop25"), 1.0) for i in range(3)]
    pool.set_cameras(cams)
    assert sorted(w.cameras for w in pool.stats().workers) == [1, 2]
    assert len({w.pid for w in pool.stats().workers}) == 2
    seen: set[str] = set()

    def all_seen() -> bool:
        for frame in pool.poll(0.2):
            assert frame.image.shape == (180, 320, 3) and frame.image.dtype.name == "uint8"
            seen.add(frame.camera_id)
        return seen == {"c0", "c1", "c2"}

    assert wait_for(all_seen, 15), f"frames from {seen}, health {pool.health()}"
    assert set(states(pool).values()) == {CameraState.ONLINE}
    # Change one, remove one, add one: without restarting the pool.
    changed = CameraSource("c1", server.url("gop50"), 0.5)
    pool.set_cameras([cams[0], changed, CameraSource("c3", server.url("gop50"), 2.0)])
    assert set(pool.health()) == {"c0", "c1", "c3"}
    assert wait_for(lambda: pool.stats().cameras["c1"].mode == "all", 15, pool)
    assert wait_for(lambda: states(pool).get("c3") is CameraState.ONLINE, 15, pool)
    assert sum(w.cameras for w in pool.stats().workers) == 3


def test_one_slot_per_camera_counts_drops(server: RtspServer, pool: IngestPool) -> None:
    pool.set_cameras([CameraSource("slow", server.url("gop25"), 0.2)])  # all mode, 5/s
    assert wait_for(lambda: pool.stats().cameras["slow"].delivered >= 3, 15, pool)
    pool.poll(0.5)
    before = pool.stats().cameras["slow"]
    time.sleep(3.0)  # a consumer that falls behind (counters lag up to a second)
    after = pool.stats().cameras["slow"]
    assert after.delivered - before.delivered >= 8
    assert after.dropped - before.dropped >= after.delivered - before.delivered - 2
    frames = pool.poll(0.5)
    assert len(frames) == 1 and frames[0].camera_id == "slow"  # only the latest
    assert frames[0].seq >= after.delivered - 1


def test_crashed_worker_is_restarted(server: RtspServer, pool: IngestPool) -> None:
    pool.set_cameras([CameraSource(f"k{i}", server.url("gop25"), 1.0) for i in range(2)])
    assert wait_for(lambda: set(states(pool).values()) == {CameraState.ONLINE}, 15, pool)
    victim = pool.worker_pids()[0]
    assert victim is not None
    os.kill(victim, signal.SIGKILL)
    assert wait_for(lambda: pool.stats().workers[0].restarts == 1, 10, pool)
    assert pool.worker_pids()[0] != victim
    assert any("exited with code -9" in e for e in pool.errors())
    assert wait_for(lambda: set(states(pool).values()) == {CameraState.ONLINE}, 15, pool)
    assert pool.fatal is None


@pytest.fixture
def own_server(clips: Path) -> Iterator[RtspServer]:
    with RtspServer(clips) as srv:
        yield srv


def test_killed_server_goes_offline_and_recovers(own_server: RtspServer) -> None:
    with IngestPool(CONFIG, workers=1) as p:
        p.set_cameras([CameraSource("k", own_server.url("gop25"), 1.0)])
        assert wait_for(lambda: states(p)["k"] is CameraState.ONLINE, 15, p)
        own_server.kill()
        assert wait_for(lambda: states(p)["k"] is CameraState.OFFLINE, 3.0, p), p.health()
        own_server.start()  # same port
        assert wait_for(lambda: states(p)["k"] is CameraState.ONLINE, 15, p), p.health()
        assert wait_for(lambda: p.stats().cameras["k"].reconnects >= 1, 3, p)


def test_frozen_server_is_stalled_and_recovers(own_server: RtspServer) -> None:
    with IngestPool(CONFIG, workers=1) as p:
        p.set_cameras([CameraSource("f", own_server.url("gop25"), 1.0)])
        assert wait_for(lambda: states(p)["f"] is CameraState.ONLINE, 15, p)
        own_server.pause()
        try:
            assert wait_for(lambda: states(p)["f"] is CameraState.STALLED, 6.0, p), p.health()
            health: CameraHealth = p.health()["f"]
            assert health.last_frame_at is not None and health.reason
        finally:
            own_server.resume()
        assert wait_for(lambda: states(p)["f"] is CameraState.ONLINE, 20, p), p.health()


def test_wrong_password_is_auth_failed_and_masked(clips: Path) -> None:
    with (
        RtspServer(clips, user="admin", password=PASSWORD) as srv,
        IngestPool(CONFIG, workers=1) as p,
    ):
        wrong = srv.url("gop25", "admin", "wrong-" + PASSWORD)
        p.set_cameras([CameraSource("a", wrong, 1.0)])
        assert wait_for(lambda: states(p)["a"] is CameraState.AUTH_FAILED, 10, p), p.health()
        status = p.health()["a"].to_status()
        assert status.reason and PASSWORD not in status.reason and "***" in status.reason
        assert all(PASSWORD not in e for e in p.errors())
        p.set_cameras([CameraSource("a", srv.url("gop25", "admin", PASSWORD), 1.0)])
        assert wait_for(lambda: states(p)["a"] is CameraState.ONLINE, 15, p), p.health()


def test_threads_do_not_leak_from_readers() -> None:
    # Reader threads are daemons named after their camera; none survive their tests here.
    assert not [t for t in threading.enumerate() if t.name.startswith("reader-")]
