"""`gridwatch cameras probe` against a real RTSP server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from gridwatch.cli import cli
from gridwatch.registry.csvfile import write_registry
from gridwatch.registry.schema import CameraRecord
from gridwatch.scenes.server import RtspServer

pytestmark = pytest.mark.rtsp


def test_probe_reports_stream_facts_and_failures(
    rtsp_server_factory,
    tmp_path: Path,
    sqlite_url: str,  # type: ignore[no-untyped-def]
) -> None:
    server: RtspServer = rtsp_server_factory(user="admin", password="Cam-Pa55")
    good = server.url("cam720", user="admin", password="Cam-Pa55")
    wrong_mount = server.url("nope", user="admin", password="Cam-Pa55")
    wrong_password = server.url("cam720", user="admin", password="guess-Pa55")
    records = [
        CameraRecord(f"cam-{i}", f"camera {i}", url, url, 121.23, 31.01)
        for i, url in enumerate([good, wrong_mount, wrong_password])
    ]
    registry = tmp_path / "cams.csv"
    write_registry(records, registry)
    runner = CliRunner()
    assert (
        runner.invoke(cli, ["cameras", "import", str(registry), "--db", sqlite_url]).exit_code == 0
    )

    result = runner.invoke(cli, ["cameras", "probe", "--all", "--db", sqlite_url, "--json"])
    assert result.exit_code == 1  # some cameras failed
    assert "Cam-Pa55" not in result.output and "guess-Pa55" not in result.output
    by_id = {r["camera_id"]: r for r in json.loads(result.stdout)}
    assert by_id["cam-0"]["ok"] is True
    assert (by_id["cam-0"]["codec"], by_id["cam-0"]["width"], by_id["cam-0"]["gop"]) == (
        "h264",
        1280,
        25,
    )
    assert by_id["cam-0"]["url"].startswith("rtsp://admin:***@")
    assert by_id["cam-1"]["reason"] == "not_found"
    assert by_id["cam-2"]["reason"] == "auth_failed"

    one = runner.invoke(cli, ["cameras", "probe", "cam-0", "--db", sqlite_url])
    assert one.exit_code == 0, one.output
    assert "h264" in one.output and "1280x720" in one.output and "Cam-Pa55" not in one.output
    usage = runner.invoke(cli, ["cameras", "probe", "--db", sqlite_url])
    assert usage.exit_code == 2 and "give one CAMERA_ID or --all" in usage.output
