"""probe_stream against a real RTSP server: measurements and every failure reason."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable

import pytest

from gridwatch.probe import ProbeFailure, ProbeResult, classify_error, probe_many, probe_stream
from gridwatch.scenes.server import RtspServer

# Fixtures from the plugin module (redundant but harmless once tests/conftest.py registers
# gridwatch.scenes.testing as a plugin).

SECRET = "s3cr3t-Pa55"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _assert_no_secret(result: ProbeResult) -> None:
    assert SECRET not in json.dumps(result.to_dict())
    assert SECRET not in repr(result)


@pytest.mark.rtsp
@pytest.mark.parametrize(("mount", "gop"), [("cam720", 25), ("gop50", 50)])
def test_probe_measures_the_stream(rtsp_server: RtspServer, mount: str, gop: int) -> None:
    result = probe_stream(rtsp_server.url(mount), timeout_s=5, max_wait_s=10)
    assert result.ok, result.message
    assert (result.codec, result.width, result.height) == ("h264", 1280, 720)
    assert result.fps == 25
    assert result.gop == gop
    assert result.bitrate_kbps is not None and 50 < result.bitrate_kbps < 20_000
    assert result.first_keyframe_s is not None and result.first_keyframe_s < 3
    assert json.loads(json.dumps(result.to_dict()))["reason"] is None


@pytest.mark.rtsp
def test_probe_many_keeps_order(rtsp_server: RtspServer) -> None:
    urls = [rtsp_server.url("cam720"), rtsp_server.url("missing"), rtsp_server.url("cam720")]
    results = probe_many(urls, workers=3, timeout_s=5, max_wait_s=10)
    assert [r.reason for r in results] == [None, ProbeFailure.NOT_FOUND, None]


@pytest.mark.rtsp
def test_wrong_mount_is_not_found(rtsp_server: RtspServer) -> None:
    result = probe_stream(rtsp_server.url("nope", "viewer", SECRET))
    assert (result.ok, result.reason) == (False, ProbeFailure.NOT_FOUND)
    _assert_no_secret(result)


def test_closed_port_is_refused() -> None:
    url = f"rtsp://admin:{SECRET}@127.0.0.1:{_closed_port()}/cam"
    result = probe_stream(url, timeout_s=2)
    assert (result.ok, result.reason) == (False, ProbeFailure.REFUSED)
    assert result.url.startswith("rtsp://admin:***@127.0.0.1:")
    _assert_no_secret(result)


def test_unresolvable_host_is_unreachable() -> None:
    result = probe_stream(f"rtsp://admin:{SECRET}@camera.invalid/stream1", timeout_s=2)
    assert (result.ok, result.reason) == (False, ProbeFailure.UNREACHABLE)
    _assert_no_secret(result)


@pytest.mark.rtsp
def test_wrong_password_is_auth_failed(rtsp_server_factory: Callable[..., RtspServer]) -> None:
    server = rtsp_server_factory(user="viewer", password="right-one")
    result = probe_stream(server.url("cam720", "viewer", SECRET))
    assert (result.ok, result.reason) == (False, ProbeFailure.AUTH_FAILED)
    _assert_no_secret(result)
    assert "401" in result.message
    ok = probe_stream(server.url("cam720", "viewer", "right-one"), max_wait_s=10)
    assert ok.ok and ok.gop == 25
    assert "right-one" not in json.dumps(ok.to_dict())


@pytest.mark.rtsp
def test_frozen_server_times_out(rtsp_server_factory: Callable[..., RtspServer]) -> None:
    server = rtsp_server_factory()
    server.pause()
    try:
        result = probe_stream(server.url("cam720", "viewer", SECRET), timeout_s=1, max_wait_s=5)
    finally:
        server.resume()
    assert (result.ok, result.reason) == (False, ProbeFailure.TIMEOUT)
    assert result.elapsed_s < 5
    _assert_no_secret(result)


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (ConnectionRefusedError(111, "Connection refused"), ProbeFailure.REFUSED),
        (TimeoutError("timed out"), ProbeFailure.TIMEOUT),
        (OSError(113, "No route to host"), ProbeFailure.UNREACHABLE),
        (OSError(5, "Server returned 403 Forbidden"), ProbeFailure.AUTH_FAILED),
        (ValueError("something else"), ProbeFailure.ERROR),
    ],
)
def test_classify_error(exc: BaseException, reason: ProbeFailure) -> None:
    assert classify_error(exc) is reason
