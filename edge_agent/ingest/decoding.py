"""One camera's decoder, sized for thousands of cameras per node.

A keyframe decodes on its own (an IDR frame refers to no other frame), so in keyframes
mode a reader needs no decoder between two due keyframes. An FFmpeg H.264 decoder that
lives on keeps its frame pool and reference pictures: measured here (PyAV 18, one
thread, after a few keyframes) 2.1 MB at 360p, 5.2 MB at 720p and 10.2 MB at 1080p per
camera, which alone would break a 5 MB per-camera budget. :class:`FrameDecoder` opens a
fresh decoder for each due keyframe (with the stream's parameter sets) and closes it
after; measured: 0.5-0.7 MB per camera at any size and the same CPU per keyframe (an
H.264 decoder opens in well under a millisecond, a 1080p keyframe takes 28 ms).

In all mode (the GOP is longer than the interval allows, so P-frames are decoded too)
the frames depend on each other and one decoder is kept for as long as the mode lasts.

A fresh decoder needs the stream's parameter sets (H.264/H.265 SPS and PPS): it gets
the stream description's (``extradata``, from the RTSP SDP) or, when a camera sends them
in-band only with some keyframes, the last ones seen in a keyframe. If a keyframe still
does not decode alone, the reader falls back to a kept decoder for the rest of the
connection (as before this module existed).
"""

from __future__ import annotations

import logging
from typing import Any

import av

log = logging.getLogger(__name__)


class FrameDecoder:
    """Decodes one stream's packets; fresh per keyframe unless ``keep`` is asked."""

    def __init__(self, stream: Any, camera_id: str = "") -> None:
        codec = stream.codec_context
        self.codec_name: str = codec.name
        self.extradata: bytes | None = codec.extradata
        self.camera_id = camera_id
        self._kept: Any = None
        self.fresh_works = True  # until a keyframe fails to decode alone
        self.opened = 0

    def _open(self) -> Any:
        ctx = av.CodecContext.create(self.codec_name, "r")
        ctx.thread_count = 1  # thousands of cameras: one decoder thread each is plenty
        if self.extradata:
            ctx.extradata = self.extradata
        self.opened += 1
        return ctx

    def decode(self, packet: Any, *, keep: bool) -> list[Any]:
        """Frames of ``packet``. ``keep``: frames depend on earlier ones (all mode)."""
        if keep or not self.fresh_works:
            if self._kept is None:
                self._kept = self._open()
            return list(self._kept.decode(packet))
        self._kept = None  # left all mode: its frame pool goes with it
        if packet.is_keyframe:
            self._learn_parameter_sets(packet)
        frames, reason = self._fresh(packet)
        if frames or not packet.is_keyframe:
            return frames
        # Does a kept decoder do better? If it fails too, the packet is at fault (a
        # broken or partial one, e.g. right after joining a stream): as before this
        # module, its error ends the connection, and the next one decodes fresh again.
        self._kept = self._open()
        try:
            frames = list(self._kept.decode(packet))
        finally:
            if not frames:
                self._kept = None
        if frames:
            self.fresh_works = False
            log.info(
                "camera %s: a keyframe does not decode on its own (%s); keeping one decoder",
                self.camera_id,
                reason[:200],
            )
        return frames

    def _fresh(self, packet: Any) -> tuple[list[Any], str]:
        """Decode ``packet`` with a decoder of its own; (frames, why none)."""
        ctx = self._open()
        try:
            return list(ctx.decode(packet)) + list(ctx.decode(None)), "no frame"
        except av.FFmpegError as exc:
            return [], str(exc)

    def _learn_parameter_sets(self, packet: Any) -> None:
        """Keep in-band SPS/PPS (VPS) of a keyframe as the extradata of later decoders."""
        if self.codec_name not in _PARAMETER_SETS:
            return
        head = bytes(memoryview(packet)[:_HEAD_BYTES])
        found = parameter_sets(head, self.codec_name)
        if found:
            self.extradata = found


_HEAD_BYTES = 4096  # parameter sets come first in an access unit
_PARAMETER_SETS = {"h264": (7, 8), "hevc": (32, 33, 34)}


def parameter_sets(data: bytes, codec: str) -> bytes:
    """The parameter-set NAL units of an Annex B access unit, with their start codes."""
    wanted = _PARAMETER_SETS.get(codec, ())
    out = []
    for unit in data.split(b"\x00\x00\x01")[1:]:
        if not unit:
            continue
        kind = unit[0] & 0x1F if codec == "h264" else (unit[0] >> 1) & 0x3F
        if kind in wanted:
            out.append(b"\x00\x00\x00\x01" + unit.rstrip(b"\x00"))
    return b"".join(out)
