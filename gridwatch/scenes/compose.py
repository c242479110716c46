"""Compose camera-like test clips from real footage: dumping, vending, parking and negatives.

The base of every scene is real street footage, OpenCV's ``vtest.avi`` (Debian package
``opencv-doc``): its own pedestrians keep walking in the background. Cut-outs of real
photographs (people, a car, a bus, a box, fruit; see :mod:`gridwatch.scenes.sprites`)
move over it along scripted tracks, scaled for perspective and given a soft shadow, and
a little sensor noise and brightness flicker keep a motion gate busy. Each scene writes
``<name>.mp4`` (H.264) and ``<name>.json`` with its ground truth.

Example::

    info = compose_scene("dumping", Path("/tmp/scenes"))
    info.expected[0].event_code  # "01-03", the box is down at info.expected[0].t_appear_s
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import av
import cv2
import numpy as np

from gridwatch.scenes import sprites
from gridwatch.scenes.scenarios import (
    PERSON_M,
    SCENE_SALT,
    SCENES,
    Actor,
    ExpectedEvent,
    SceneSpec,
)
from gridwatch.scenes.sprites import Image, MissingFootageError

__all__ = [
    "SCENES",
    "Actor",
    "ExpectedEvent",
    "MissingFootageError",
    "Mp4Writer",
    "SceneInfo",
    "SceneSpec",
    "Stage",
    "compose_scene",
    "scene_frames",
]

VTEST_FPS = 10.0
# vtest.avi is 768x576; rows 96..528 give a 16:9 view of lawn, plaza and road.
_CROP_Y0, _CROP_H, _SRC_W = 96, 432, 768


@dataclass(frozen=True)
class SceneInfo:
    """What :func:`compose_scene` wrote."""

    name: str
    mp4: Path
    json: Path
    fps: int
    size: tuple[int, int]
    duration_s: float
    n_frames: int
    expected: tuple[ExpectedEvent, ...]
    recommended_zone: tuple[tuple[float, float], ...]


def person_height_px(foot_y: float, height: int) -> float:
    """Pixel height of a 1.75 m person whose feet are at normalized ``foot_y``.

    Fitted by eye to vtest.avi's pedestrians (about 75 px tall on the far road, 125 px
    near the bottom of the 576-row frame).
    """
    src_y = _CROP_Y0 + foot_y * _CROP_H
    return (40.0 + 0.17 * src_y) * height / _CROP_H


def actor_box(actor: Actor, t: float, size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """Pixel box (x1, y1, x2, y2) the actor covers at ``t``, before clipping."""
    pose = actor.where(t)
    if pose is None:
        return None
    w, h = size
    x, fy, _ = pose
    scale = person_height_px(fy, h) / PERSON_M
    sh = max(2, round(actor.height_m * scale))
    sw = max(2, round(sh * actor.sprite().aspect))
    foot_x, foot_y = round(x * w), round(fy * h - actor.lift_m(t) * scale)
    return foot_x - sw // 2, foot_y - sh, foot_x - sw // 2 + sw, foot_y


def _draw_actor(canvas: Image, actor: Actor, t: float) -> None:
    pose = actor.where(t)
    box = actor_box(actor, t, (canvas.shape[1], canvas.shape[0]))
    if pose is None or box is None:
        return
    x1, y1, x2, y2 = box
    sprite = actor.sprite().scaled(y2 - y1)
    if pose[2] != actor.faces_right:
        sprite = sprite.flipped()
    foot_x = (x1 + x2) // 2
    ground = round(pose[1] * canvas.shape[0])
    _shadow(canvas, foot_x, ground, x2 - x1)
    before = actor.where(t - 0.1)
    moving = actor.walks and before is not None and abs(before[0] - pose[0]) > 1e-4
    bob = round(abs(np.sin(t * 2 * np.pi * 1.8)) * (y2 - y1) * 0.02) if moving else 0
    sprites.paste(canvas, sprite, foot_x, y2 - bob)


def _shadow(canvas: Image, cx: int, cy: int, width: int) -> None:
    """Darken a flat ellipse under an object so it sits on the ground."""
    ax, ay = max(2, int(width * 0.55)), max(2, int(width * 0.08))
    x1, y1 = max(0, cx - ax), max(0, cy - ay)
    x2, y2 = min(canvas.shape[1], cx + ax), min(canvas.shape[0], cy + ay)
    if x2 <= x1 or y2 <= y1:
        return
    mask = np.zeros((y2 - y1, x2 - x1), np.float32)
    cv2.ellipse(mask, (cx - x1, cy - y1), (ax, ay), 0, 0, 360, 0.45, -1)
    region = canvas[y1:y2, x1:x2].astype(np.float32) * (1.0 - mask[..., None])
    canvas[y1:y2, x1:x2] = region.astype(np.uint8)


class _Footage:
    """Sequential reader of vtest.avi, cropped to 16:9 and resized, looping at the end."""

    def __init__(self, size: tuple[int, int], start: int) -> None:
        if not sprites.VTEST.is_file():
            raise MissingFootageError(
                f"{sprites.VTEST} is missing: install the Debian package opencv-doc "
                "(apt-get install opencv-doc) or set GRIDWATCH_OPENCV_DOC"
            )
        self.size = size
        self.index = -1
        self.frame: Image | None = None
        self.cap = cv2.VideoCapture(str(sprites.VTEST))
        self._skip_to(start)

    def _skip_to(self, index: int) -> None:
        while self.index < index:
            ok, raw = self.cap.read()
            if not ok:  # loop: reopen and keep counting
                self.cap.release()
                self.cap = cv2.VideoCapture(str(sprites.VTEST))
                ok, raw = self.cap.read()
                if not ok:
                    raise MissingFootageError(f"cannot decode {sprites.VTEST}")
            self.index += 1
            if self.index == index:
                crop = raw[_CROP_Y0 : _CROP_Y0 + _CROP_H, :_SRC_W]
                resized = cv2.resize(crop, self.size, interpolation=cv2.INTER_LINEAR)
                self.frame = np.asarray(resized, np.uint8)

    def at(self, index: int) -> Image:
        self._skip_to(index)
        assert self.frame is not None
        return self.frame.copy()

    def close(self) -> None:
        self.cap.release()


class _Camera:
    """Sensor noise and slow brightness flicker, deterministic from the scene's RNG."""

    def __init__(self, rng: np.random.Generator, size: tuple[int, int]) -> None:
        w, h = size
        self.noise = [rng.normal(0.0, 2.0, (h, w, 3)).astype(np.int16) for _ in range(4)]
        self.phase = float(rng.uniform(0, 2 * np.pi))
        self.jitter = rng.normal(0.0, 0.006, 100_000)
        self.rolls = rng.integers(0, 1 << 16, 100_000)

    def __call__(self, frame: Image, i: int, t: float) -> Image:
        gain = 1.0 + 0.025 * np.sin(2 * np.pi * 0.13 * t + self.phase) + self.jitter[i % 100_000]
        lut = np.clip(np.arange(256, dtype=np.float32) * gain, 0, 255).astype(np.uint8)
        out = cv2.LUT(frame, lut).astype(np.int16)
        roll = int(self.rolls[i % 100_000])
        noise = self.noise[roll % 4]
        out += np.roll(noise, roll % noise.shape[1], axis=1)
        return np.clip(out, 0, 255).astype(np.uint8)


class Stage:
    """Real footage (vtest.avi, looping) with actors drawn over it: the scenes' renderer.

    Times must not go backwards. Tests use it to stage situations on real frames:

    >>> stage = Stage((640, 360), np.random.default_rng(1))     # doctest: +SKIP
    >>> frame = stage.frame(12.0, [Actor(sprites.cardboard_box, 0.55, [(10, 0.3, 0.9)],
    ...                                  stays=True)])          # doctest: +SKIP
    """

    def __init__(self, size: tuple[int, int], rng: np.random.Generator, start: int = 0) -> None:
        self.footage = _Footage(size, start)
        self.start = self.footage.index
        self.camera = _Camera(rng, size)
        self.count = 0

    def frame(self, t: float, actors: Sequence[Actor]) -> Image:
        """The picture at ``t`` seconds: footage, then the actors on stage, nearer last."""
        frame = self.footage.at(self.start + int(t * VTEST_FPS))
        on_stage = [a for a in actors if a.where(t) is not None]
        # Farther first (smaller foot y), so nearer cut-outs cover them.
        for actor in sorted(on_stage, key=lambda a: _foot_y(a, t)):
            _draw_actor(frame, actor, t)
        self.count += 1
        return self.camera(frame, self.count - 1, t)

    def close(self) -> None:
        self.footage.close()


def scene_frames(
    name: str,
    *,
    seconds: float | None = None,
    fps: int = 10,
    size: tuple[int, int] = (1280, 720),
    seed: int = 0,
) -> Iterator[Image]:
    """Yield the BGR frames of scene ``name``; the same arguments give the same frames."""
    spec = _spec(name)
    duration = _duration(spec, seconds)
    rng = np.random.default_rng([seed, SCENE_SALT[name]])
    script = spec.script(rng)
    n = round(duration * fps)
    max_start = max(0, 795 - int(duration * VTEST_FPS) - 1)
    stage = Stage(size, rng, int(rng.integers(0, max_start + 1)))
    try:
        for i in range(n):
            yield stage.frame(i / fps, script.actors)
    finally:
        stage.close()


def _foot_y(actor: Actor, t: float) -> float:
    pose = actor.where(t)
    return pose[1] if pose else 0.0


def compose_scene(
    name: str,
    out_dir: Path,
    *,
    seconds: float | None = None,
    fps: int = 10,
    size: tuple[int, int] = (1280, 720),
    seed: int = 0,
    h264: bool = False,
    hold_s: float = 0.0,
) -> SceneInfo:
    """Write ``<out_dir>/<name>.mp4`` and its ground truth ``<name>.json``.

    With ``h264`` also ``<name>.h264`` (Annex-B, GOP 2 s, for the RTSP test server) via
    :func:`gridwatch.scenes.encode.encode_h264`, from the same frames. With ``hold_s``,
    a scene with events also gets ``<name>_held.mp4``: the same frames, then the last
    one held ``hold_s`` seconds (``shared/FOOTAGE.md``'s held last frames), so a dwell
    of minutes can pass and an END while the object still lies there shows.

    Raises ``KeyError`` for an unknown scene, ``ValueError`` when ``seconds`` is too
    short for the scene's events, and :class:`MissingFootageError` without opencv-doc.
    """
    spec = _spec(name)
    duration = _duration(spec, seconds)
    out_dir.mkdir(parents=True, exist_ok=True)
    mp4 = out_dir / f"{name}.mp4"
    frames = scene_frames(name, seconds=duration, fps=fps, size=size, seed=seed)
    script = spec.script(np.random.default_rng([seed, SCENE_SALT[name]]))
    writer = Mp4Writer(mp4, fps=fps, size=size)
    held_path(mp4).unlink(missing_ok=True)  # never leave a held file of an older scene
    held = Mp4Writer(held_path(mp4), fps=fps, size=size) if hold_s > 0 and script.expected else None
    if held is not None:
        frames = (held.write(f) for f in frames)
    try:
        if h264:
            # One pass feeds every file: each frame goes to the MP4s, then to the encoder.
            from gridwatch.scenes.encode import encode_h264

            encode_h264((writer.write(f) for f in frames), out_dir / f"{name}.h264", fps, 2 * fps)
        else:
            for frame in frames:
                writer.write(frame)
        if held is not None:
            held.hold(round(hold_s * fps))
    finally:
        writer.close()
        if held is not None:
            held.close()
    n = writer.count
    expected = tuple(_with_box(ev, actor, duration, size) for ev, actor in script.expected)
    info = SceneInfo(
        name=name,
        mp4=mp4,
        json=out_dir / f"{name}.json",
        fps=fps,
        size=size,
        duration_s=n / fps,
        n_frames=n,
        expected=expected,
        recommended_zone=script.zone or _zone_around(expected[0].box, 0.3),
    )
    info.json.write_text(json.dumps(_truth(info, spec), indent=2) + "\n")
    return info


class Mp4Writer:
    """Camera-like H.264 (no B-frames, keyframe every 2 s) in an MP4, one frame at a time."""

    def __init__(self, path: Path, *, fps: int, size: tuple[int, int]) -> None:
        self.count = 0
        self._last: Image | None = None
        self.container = av.open(str(path), "w")
        gop = str(2 * fps)
        self.stream = self.container.add_stream(
            "libx264",
            rate=fps,
            options={
                "preset": "veryfast",
                "crf": "23",
                "bf": "0",
                "g": gop,
                "keyint_min": gop,
                "sc_threshold": "0",
            },
        )
        self.stream.width, self.stream.height = size
        self.stream.pix_fmt = "yuv420p"

    def write(self, frame: Image) -> Image:
        """Encode one BGR frame; returns it, so the writer can sit inside a pipeline."""
        video = av.VideoFrame.from_ndarray(frame, format="bgr24")
        self._last = frame
        video.pts = self.count
        self.container.mux(self.stream.encode(video))
        self.count += 1
        return frame

    def hold(self, count: int) -> None:
        """Repeat the last frame written ``count`` more times (a camera on a still scene)."""
        if self._last is None:
            raise ValueError("nothing to hold: no frame was written")
        for _ in range(count):
            self.write(self._last)

    def close(self) -> None:
        """Flush the encoder and finish the file."""
        self.container.mux(self.stream.encode())
        self.container.close()


def held_path(mp4: Path) -> Path:
    """Where the held version of a scene's MP4 goes: ``<name>_held.mp4``."""
    return mp4.with_name(f"{mp4.stem}_held.mp4")


def _with_box(
    ev: ExpectedEvent, actor: Actor, duration: float, size: tuple[int, int]
) -> ExpectedEvent:
    box = actor_box(actor, duration, size)
    assert box is not None, "a key object must stay to the end of its scene"
    w, h = size
    x1, y1, x2, y2 = box
    norm = (max(0, x1) / w, max(0, y1) / h, min(w, x2) / w, min(h, y2) / h)
    return ExpectedEvent(**{**asdict(ev), "box": tuple(round(v, 4) for v in norm)})


def _truth(info: SceneInfo, spec: SceneSpec) -> dict[str, object]:
    return {
        "scene": info.name,
        "description": spec.description,
        "fps": info.fps,
        "size": list(info.size),
        "duration_s": info.duration_s,
        "n_frames": info.n_frames,
        "source": "vtest.avi (opencv-doc) with cut-outs of real photos; see scenes/sprites.py",
        "expected": [asdict(ev) for ev in info.expected],
        "recommended_zone": [list(p) for p in info.recommended_zone],
    }


def _spec(name: str) -> SceneSpec:
    try:
        return SCENES[name]
    except KeyError:
        raise KeyError(f"unknown scene {name!r}; known: {', '.join(SCENES)}") from None


def _duration(spec: SceneSpec, seconds: float | None) -> float:
    duration = spec.default_seconds if seconds is None else float(seconds)
    if duration < spec.min_seconds:
        raise ValueError(
            f"scene {spec.name!r} needs at least {spec.min_seconds:g} s, got {duration:g} s"
        )
    return duration


def _zone_around(
    box: tuple[float, float, float, float], pad: float
) -> tuple[tuple[float, float], ...]:
    x1, y1, x2, y2 = box
    dx, dy = (x2 - x1) * pad, (y2 - y1) * pad
    x1, y1 = max(0.0, x1 - dx), max(0.0, y1 - dy)
    x2, y2 = min(1.0, x2 + dx), min(1.0, y2 + dy)
    return tuple((round(x, 4), round(y, 4)) for x, y in ((x1, y1), (x2, y1), (x2, y2), (x1, y2)))
