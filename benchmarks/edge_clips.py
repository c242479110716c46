"""Camera clips for ``gridwatch bench edge``: real-footage scenes at the sizes and GOPs asked.

Each variant is ``<scene>-<size>-g<gop>.h264`` (25 fps, no B-frames, fixed GOP, at the
bitrates of VIDEO_NOTES: 1080p 4 Mbit/s, 720p 2 Mbit/s, 360p 0.6 Mbit/s), composed by
:mod:`gridwatch.scenes.compose` and cached in ``<data_dir>/bench-clips`` so that only
the first run pays for composing and encoding (about a minute per scene and size).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

FPS = 25
SCENES = ("parking", "walkthrough", "traffic")  # parking: a car stays, a known event
EVENT_SCENE = "parking"
SIZES: dict[str, tuple[tuple[int, int], int]] = {
    "360p": ((640, 360), 600_000),
    "720p": ((1280, 720), 2_000_000),
    "1080p": ((1920, 1080), 4_000_000),
}


@dataclass(frozen=True)
class Variant:
    """One served stream: a scene at one size and GOP (the server mounts ``name``)."""

    scene: str
    size: str
    gop: int

    @property
    def name(self) -> str:
        return f"{self.scene}-{self.size}-g{self.gop}"


def variants(sizes: list[str], gops: list[int], scenes: tuple[str, ...] = SCENES) -> list[Variant]:
    """Every scene × size × GOP, interleaved so that K cameras mix them all."""
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        raise ValueError(f"unknown size(s) {unknown}; known: {', '.join(SIZES)}")
    return [Variant(sc, si, g) for si in sizes for g in gops for sc in scenes]


def prepare(cache: Path, chosen: list[Variant], serve_dir: Path) -> None:
    """Encode the missing variants into ``cache`` and link the chosen ones into ``serve_dir``."""
    from gridwatch.scenes.compose import SCENES as SPECS
    from gridwatch.scenes.compose import scene_frames
    from gridwatch.scenes.encode import encode_h264

    cache = cache.resolve()
    cache.mkdir(parents=True, exist_ok=True)
    serve_dir.mkdir(parents=True, exist_ok=True)
    for v in chosen:
        clip = cache / f"{v.name}.h264"
        if not clip.is_file():
            size, bitrate = SIZES[v.size]
            print(f"composing {clip.name} (cached for later runs) ...", flush=True)
            tmp = cache / f".{v.name}.tmp.h264"
            frames = scene_frames(v.scene, seconds=SPECS[v.scene].min_seconds, fps=FPS, size=size)
            encode_h264(frames, tmp, FPS, v.gop, bitrate)
            os.replace(tmp.with_suffix(".json"), clip.with_suffix(".json"))
            os.replace(tmp, clip)
        for suffix in (".h264", ".json"):
            link = serve_dir / f"{v.name}{suffix}"
            if not link.exists():
                link.symlink_to(clip.with_suffix(suffix))
