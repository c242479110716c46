"""Run the RTSP test server (:mod:`gridwatch.scenes.rtsp_server`) from the venv.

GStreamer's Python bindings import only in the system Python, so the server is a child
process of ``/usr/bin/python3``. :class:`RtspServer` starts it on a free port, waits for
its ``READY`` line and gives tests, benchmarks and the demo the controls a flaky camera
network needs: stop, kill, freeze (SIGSTOP), thaw and restart on the same port.

    >>> with RtspServer(Path("clips/")) as server:
    ...     url = server.url("cam1")        # rtsp://127.0.0.1:PORT/cam1
"""

from __future__ import annotations

import functools
import os
import selectors
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO
from urllib.parse import quote

SYSTEM_PYTHON = "/usr/bin/python3"
SCRIPT = Path(__file__).with_name("rtsp_server.py")
APT_PACKAGES = (
    "gir1.2-gst-rtsp-server-1.0 python3-gst-1.0 gstreamer1.0-plugins-base "
    "gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-rtsp"
)
INSTALL_HINT = f"apt-get install -y --no-install-recommends {APT_PACKAGES}"
_PASSWORD_ENV = "GRIDWATCH_RTSP_SERVER_PASSWORD"
_EXIT_NO_GI = 3  # rtsp_server.EXIT_NO_GI


class RtspServerError(RuntimeError):
    """The RTSP test server did not start. The message carries its stderr and, when
    GStreamer is missing, the Debian packages to install; fix that and start again."""


@functools.cache
def gstreamer_available(python: str = SYSTEM_PYTHON) -> bool:
    """Whether ``python`` can import GStreamer's RTSP server (tests skip without it)."""
    check = (
        "import gi; gi.require_version('Gst', '1.0'); "
        "gi.require_version('GstRtspServer', '1.0'); "
        "from gi.repository import Gst, GstRtspServer"
    )
    try:
        result = subprocess.run([python, "-c", check], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


class RtspServer:
    """A live RTSP camera per ``*.h264`` clip in ``directory``, served by a child process.

    ``port=0`` picks a free port; :meth:`restart` reuses the port it got, so readers can
    reconnect to the same URLs. ``user``/``password`` require basic auth on every mount
    (the password reaches the child through its environment, not its command line).
    """

    def __init__(
        self,
        directory: Path,
        *,
        port: int = 0,
        address: str = "127.0.0.1",
        fps: int = 25,
        user: str | None = None,
        password: str | None = None,
        python: str = SYSTEM_PYTHON,
        start_timeout_s: float = 20.0,
    ) -> None:
        if (user is None) != (password is None):
            raise ValueError("user and password go together")
        self.directory = Path(directory)
        self.address = address
        self.fps = fps
        self.user = user
        self._password = password
        self.python = python
        self.start_timeout_s = start_timeout_s
        self._port = port
        self.mounts: list[str] = []
        self._proc: subprocess.Popen[str] | None = None
        self._stderr: IO[str] | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> RtspServer:
        """Start the server and wait until it listens; raise :class:`RtspServerError` if not."""
        if self.running:
            raise RtspServerError(f"already running on port {self._port}")
        cmd = [self.python, str(SCRIPT), "--dir", str(self.directory), "--address", self.address]
        cmd += ["--port", str(self._port), "--fps", str(self.fps), "--exit-on-stdin-eof"]
        env = dict(os.environ)
        if self.user is not None and self._password is not None:
            cmd += ["--user", self.user, "--password-env", _PASSWORD_ENV]
            env[_PASSWORD_ENV] = self._password
        self._close_stderr()
        # Lives as long as the server (read on failure), closed by _close_stderr.
        self._stderr = tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace")  # noqa: SIM115
        try:
            # stdin stays open as a lifeline: when this process dies, the server sees EOF.
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                env=env,
                text=True,
            )
        except OSError as exc:
            raise RtspServerError(
                f"cannot run {self.python}: {exc}; the RTSP test server needs the system "
                f"Python with GStreamer: {INSTALL_HINT}"
            ) from exc
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        deadline = time.monotonic() + self.start_timeout_s
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if not sel.select(timeout=max(0.0, deadline - time.monotonic())):
                    continue
                line = proc.stdout.readline()
                if not line:  # EOF: the server exited
                    proc.wait(timeout=5)
                    raise RtspServerError(self._failure(f"exited with code {proc.returncode}"))
                if line.startswith("READY "):
                    fields = dict(f.split("=", 1) for f in line.split()[1:])
                    self._port = int(fields["port"])
                    self.mounts = [m for m in fields.get("mounts", "").split(",") if m]
                    return
        self.kill()
        raise RtspServerError(self._failure(f"not ready after {self.start_timeout_s:.0f} s"))

    def _failure(self, what: str) -> str:
        stderr = ""
        if self._stderr is not None:
            self._stderr.seek(0)
            stderr = self._stderr.read().strip()
        message = f"RTSP test server ({SCRIPT.name}, port {self._port}) {what}"
        if self._proc is not None and self._proc.returncode == _EXIT_NO_GI:
            message += f"; install GStreamer's RTSP server for {self.python}: {INSTALL_HINT}"
        return message + (f"\n--- server stderr ---\n{stderr}" if stderr else "")

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop gracefully (SIGTERM, then SIGKILL after ``timeout_s``); a no-op if not running."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)  # a paused server cannot handle SIGTERM
            proc.terminate()
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._release()

    def kill(self) -> None:
        """Kill at once (SIGKILL), like a camera losing power."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        self._release()

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open and no data flows."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Thaw a server frozen by :meth:`pause` (SIGCONT)."""
        self._signal(signal.SIGCONT)

    def restart(self) -> RtspServer:
        """Stop if running, then start again on the same port (for reconnect tests)."""
        self.stop()
        return self.start()

    def _signal(self, signum: signal.Signals) -> None:
        if not self.running:
            raise RtspServerError("the RTSP test server is not running")
        assert self._proc is not None
        os.kill(self._proc.pid, signum)

    def _release(self) -> None:
        proc = self._proc
        if proc is not None:
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    stream.close()
        self._proc = None

    def _close_stderr(self) -> None:
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    # -- queries -----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def port(self) -> int:
        """The port the server listens on (known once :meth:`start` has returned)."""
        if self._port == 0:
            raise RtspServerError("the RTSP test server has not started yet")
        return self._port

    def url(self, mount: str, user: str | None = None, password: str | None = None) -> str:
        """``rtsp://[user[:password]@]ADDRESS:PORT/mount``; credentials are percent-encoded."""
        creds = ""
        if user is not None:
            creds = quote(user, safe="")
            if password is not None:
                creds += ":" + quote(password, safe="")
            creds += "@"
        return f"rtsp://{creds}{self.address}:{self.port}/{mount}"

    def wait(self) -> int:
        """Block until the server exits (the foreground ``serve`` command); its exit code."""
        if self._proc is None:
            raise RtspServerError("the RTSP test server is not running")
        return self._proc.wait()

    def __enter__(self) -> RtspServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        self._close_stderr()
