"""`gridwatch demo` (the README's main command) runs the whole system live: scene cameras
over RTSP, an edge agent, the aggregator and the web UI with a demo login it prints."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.rtsp, pytest.mark.yolo]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_demo_runs_everything_and_prints_a_working_login(
    scenes: Path, weights_dir: Path, repo: Path, tmp_path: Path
) -> None:
    port = free_port()
    env = {**os.environ, "GRIDWATCH_WEIGHTS_DIR": str(weights_dir), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gridwatch.cli",
            "demo",
            "--port",
            str(port),
            "--seconds",
            "150",
            "--scenes",
            str(scenes),
            "--folder",
            str(tmp_path / "demo"),
        ],
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        while not any(line.strip().startswith("login:") for line in lines):
            line = proc.stdout.readline()
            assert line, "demo ended before printing a login:\n" + "".join(lines)
            lines.append(line)
        text = "".join(lines)
        url = re.search(r"web UI:\s+(\S+)", text).group(1)  # type: ignore[union-attr]
        user, password = re.search(r"login:\s+(\S+) / (\S+)", text).groups()  # type: ignore[union-attr]
        assert url == f"http://127.0.0.1:{port}/"

        with httpx.Client(base_url=url, timeout=10) as client:
            deadline = time.monotonic() + 60
            while True:  # the web UI comes up with the aggregator
                try:
                    client.get("/login")
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "web UI never answered"
                    time.sleep(1)
            assert client.get("/api/cases").status_code == 401
            login = client.post("/login", data={"username": user, "password": password})
            assert login.status_code in (200, 303), login.text
            deadline = time.monotonic() + 120
            cases: list[dict[str, object]] = []
            while not cases:
                assert time.monotonic() < deadline, "no case appeared in the demo"
                time.sleep(3)
                body = client.get("/api/cases").json()
                cases = body["items"] if isinstance(body, dict) else body
            codes = {c["event_code"] for c in cases}
            assert codes <= {"01-03", "05-01", "05-05"}, codes
            review = client.get("/", follow_redirects=True)
            assert review.status_code == 200
            assert any(code in review.text for code in codes)  # the queue shows the case
    finally:
        proc.terminate()
        rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, "".join(lines) + rest
    assert "demo stopped cleanly" in rest
