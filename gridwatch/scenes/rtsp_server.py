"""Serve H.264 clips as live, looping RTSP cameras (GStreamer's RTSP server).

This file is a standalone script for the *system* Python (``/usr/bin/python3``): GStreamer's
Python bindings (``gi``) import there and not in a virtualenv, so it imports only the
standard library and ``gi``. The venv side drives it through
:class:`gridwatch.scenes.server.RtspServer`.

Every ``*.h264`` file (Annex-B elementary stream) in ``--dir`` becomes
``rtsp://ADDRESS:PORT/<stem>``. A file is split into access units once, then pushed
through an ``appsrc`` with exact ``1/fps`` timestamps, looping forever with timestamps that
keep increasing, like a live camera. Each mount has one shared media, so any number of
clients see the same live picture and the cost does not grow with the client count.

The frame rate comes from a sidecar ``<stem>.json`` (``{"fps": 25}``), else ``--fps``.

When listening it prints one line, ``READY port=<n> mounts=<a,b,...>``, on stdout; it
exits 0 on SIGTERM or SIGINT.

    /usr/bin/python3 rtsp_server.py --dir clips/ --port 0
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

EXIT_NO_GI = 3
EXIT_BAD_INPUT = 2
APT_PACKAGES = (
    "gir1.2-gst-rtsp-server-1.0 python3-gst-1.0 gstreamer1.0-plugins-base "
    "gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-rtsp"
)

try:
    import gi  # type: ignore[import-not-found]

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer  # type: ignore[import-not-found]
except (ImportError, ValueError) as _exc:  # ValueError: typelib missing
    print(
        f"rtsp_server: GStreamer's RTSP server is not importable in {sys.executable}: {_exc}\n"
        f"install it with: apt-get install -y --no-install-recommends {APT_PACKAGES}",
        file=sys.stderr,
    )
    sys.exit(EXIT_NO_GI)

_VCL = {1, 5}
_IDR = 5
_AU_OPENERS = {6, 7, 8, 9}  # SEI, SPS, PPS, AUD: each opens a new access unit after a slice


class AccessUnit:
    """One coded picture: its Annex-B bytes and whether it is an IDR (keyframe)."""

    __slots__ = ("data", "keyframe")

    def __init__(self, data: bytes, keyframe: bool) -> None:
        self.data = data
        self.keyframe = keyframe


def _nal_spans(data: bytes) -> list[tuple[int, int]]:
    """Return (start, end) of each NAL unit, start codes included, in order."""
    starts: list[int] = []
    i = data.find(b"\x00\x00\x01")
    while i >= 0:
        # A 4-byte start code (00 00 00 01) belongs to the NAL that follows it.
        starts.append(i - 1 if i > 0 and data[i - 1] == 0 else i)
        i = data.find(b"\x00\x00\x01", i + 3)
    return [(s, e) for s, e in zip(starts, [*starts[1:], len(data)], strict=True)]


def split_access_units(data: bytes) -> list[AccessUnit]:
    """Group an Annex-B stream's NAL units into access units (H.264 spec 7.4.1.2.3)."""
    units: list[AccessUnit] = []
    current: list[bytes] = []
    has_slice = keyframe = False
    for start, end in _nal_spans(data):
        nal = data[start:end]
        header = nal.index(b"\x01") + 1
        if header >= len(nal):
            continue
        kind = nal[header] & 0x1F
        # first_mb_in_slice is ue(v) and 0 exactly when its first bit is 1.
        new_picture = kind in _VCL and header + 1 < len(nal) and nal[header + 1] & 0x80
        if has_slice and (kind in _AU_OPENERS or new_picture):
            units.append(AccessUnit(b"".join(current), keyframe))
            current, has_slice, keyframe = [], False, False
        current.append(nal)
        if kind in _VCL:
            has_slice = True
            keyframe = keyframe or kind == _IDR
    if has_slice:
        units.append(AccessUnit(b"".join(current), keyframe))
    return units


class LoopingCamera(GstRtspServer.RTSPMediaFactory):
    """A mount that plays one clip's access units forever at its frame rate."""

    def __init__(self, name: str, units: list[AccessUnit], fps: int) -> None:
        super().__init__()
        self.name = name
        self.units = units
        self.fps = fps
        self.frame_ns = Gst.SECOND // fps
        caps = f"video/x-h264,stream-format=byte-stream,alignment=au,framerate={fps}/1"
        self.set_launch(
            f"( appsrc name=src is-live=true format=time do-timestamp=false caps={caps} "
            "! h264parse config-interval=-1 "
            "! rtph264pay name=pay0 pt=96 )"
        )
        self.set_shared(True)
        self.connect("media-configure", self._on_media_configure)

    def _on_media_configure(self, _factory: Any, media: Any) -> None:
        appsrc = media.get_element().get_child_by_name("src")
        # A counter per media: a media built for a later client starts its clock at 0.
        state = {"n": 0}
        appsrc.connect("need-data", self._on_need_data, state)

    def _on_need_data(self, appsrc: Any, _length: int, state: dict[str, int]) -> None:
        # One access unit per call: appsrc asks again once the sink has played it out
        # in real time, so the clip is paced by the pipeline clock, not by a timer.
        n = state["n"]
        unit = self.units[n % len(self.units)]
        buf = Gst.Buffer.new_wrapped(unit.data)
        buf.pts = buf.dts = n * self.frame_ns
        buf.duration = self.frame_ns
        if not unit.keyframe:
            buf.set_flags(Gst.BufferFlags.DELTA_UNIT)
        state["n"] = n + 1
        appsrc.emit("push-buffer", buf)


def _clip_fps(clip: Path, default: int) -> int:
    sidecar = clip.with_suffix(".json")
    if not sidecar.exists():
        return default
    fps = json.loads(sidecar.read_text(encoding="utf-8")).get("fps", default)
    if not isinstance(fps, int | float) or fps <= 0:
        raise ValueError(f"{sidecar}: fps must be a positive number, got {fps!r}")
    return round(fps)


def load_cameras(directory: Path, default_fps: int) -> list[LoopingCamera]:
    """One :class:`LoopingCamera` per ``*.h264`` file, parsed into access units once."""
    cameras = []
    for clip in sorted(directory.glob("*.h264")):
        units = split_access_units(clip.read_bytes())
        if not units:
            raise ValueError(f"{clip}: no H.264 access units found (is it Annex-B?)")
        if not units[0].keyframe:
            # Start the loop on a keyframe, so a client's first frame is decodable.
            first = next((i for i, u in enumerate(units) if u.keyframe), None)
            if first is None:
                raise ValueError(f"{clip}: no IDR frame, cannot loop it")
            units = units[first:] + units[:first]
        cameras.append(LoopingCamera(clip.stem, units, _clip_fps(clip, default_fps)))
    return cameras


def _auth(user: str, password: str) -> Any:
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "viewer")
    auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
    return auth


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dir", required=True, type=Path, help="folder of *.h264 clips")
    parser.add_argument("--address", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8554, help="0 picks a free port")
    parser.add_argument("--fps", type=int, default=25, help="frame rate without a sidecar")
    parser.add_argument("--user", help="require basic auth with this user on every mount")
    parser.add_argument("--password", help="the password for --user (visible in ps)")
    parser.add_argument("--password-env", help="read the password from this variable")
    parser.add_argument(
        "--exit-on-stdin-eof",
        action="store_true",
        help="stop when stdin closes (the parent process died)",
    )
    args = parser.parse_args(argv)
    if args.password_env:
        args.password = os.environ.get(args.password_env)
        if args.password is None:
            parser.error(f"--password-env: ${args.password_env} is not set")
    if (args.user is None) != (args.password is None):
        parser.error("--user and a password go together")
    if args.fps <= 0:
        parser.error("--fps must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    Gst.init(None)
    try:
        cameras = load_cameras(args.dir, args.fps)
    except (OSError, ValueError) as exc:
        print(f"rtsp_server: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not cameras:
        print(f"rtsp_server: no *.h264 clips in {args.dir}", file=sys.stderr)
        return EXIT_BAD_INPUT

    server = GstRtspServer.RTSPServer()
    server.set_address(args.address)
    server.set_service(str(args.port))
    server.set_backlog(128)  # many clients connect at once when a test or benchmark starts
    if args.user is not None:
        server.set_auth(_auth(args.user, args.password))
    mounts = server.get_mount_points()
    for camera in cameras:
        if args.user is not None:
            camera.add_role_from_structure(
                Gst.Structure.new_from_string(
                    "viewer, media.factory.access=(boolean)true, "
                    "media.factory.construct=(boolean)true"
                )
            )
        mounts.add_factory(f"/{camera.name}", camera)

    loop = GLib.MainLoop()
    try:
        server.attach(None)
    except GLib.Error as exc:
        print(f"rtsp_server: cannot listen on {args.address}:{args.port}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    for signum in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, signum, _quit, loop)
    if args.exit_on_stdin_eof:
        GLib.io_add_watch(
            GLib.IOChannel.unix_new(sys.stdin.fileno()),
            GLib.PRIORITY_DEFAULT,
            GLib.IOCondition.IN | GLib.IOCondition.HUP | GLib.IOCondition.ERR,
            _on_stdin,
            loop,
        )
    names = ",".join(c.name for c in cameras)
    print(f"READY port={server.get_bound_port()} mounts={names}", flush=True)
    loop.run()
    return 0


def _quit(loop: Any) -> bool:
    loop.quit()
    return False


def _on_stdin(channel: Any, _condition: Any, loop: Any) -> bool:
    if not os.read(channel.unix_get_fd(), 4096):  # EOF: whoever started us is gone
        loop.quit()
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
