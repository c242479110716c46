"""Rebuild the real-footage development set from the repositories it was taken from.

The clips are third-party footage and stay out of git; ``manifest.json`` says where each
one comes from (repository, commit, path, sha256, size). This script takes every clip out
of a local git snapshot of its repository (``git show COMMIT:PATH``), checks its bytes and
hash, writes it under ``eval/real/clips/`` and then makes its ``eval_file``: the clip
re-encoded as H.264 (GOP of about one second, no B-frames, yuv420p, even size) with its
last frame held for ``hold_s`` seconds, so that an object that stays to the end of a short
clip is still there when the detector's dwell and end-of-incident waits have run out. An
entry with ``keep_until_s`` is cut there before the hold (its tail has a burnt-in overlay).

    $ python eval/real/rebuild.py                      # every clip
    $ python eval/real/rebuild.py --only aboda_video4_sidewalk_bag
    $ python eval/real/rebuild.py --mirror /work/.mirror

A repository is looked for under the mirror folder as ``owner+name/repo`` (a work tree
with ``.git`` or a bare git dir). A missing one is reported with the ``fetch`` that brings
it; the other clips are still built and the script exits non-zero at the end. Clips whose
file is already there with the right hash are not extracted again; an ``eval_file`` is
only made when it is missing. Needs only the standard library, PyAV and numpy.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_MIRROR = Path("/work/.mirror")


class RebuildError(Exception):
    """One clip could not be rebuilt; the message says which and what to do about it."""


@dataclass(frozen=True)
class Source:
    """One entry of ``manifest.json``: where a clip comes from and where it goes."""

    name: str
    source_repo: str
    commit: str
    source_path: str
    sha256: str
    size: int
    file: str
    eval_file: str | None
    hold_s: float
    keep_until_s: float | None
    local_fallback: str | None

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Source:
        """Read one manifest entry (unknown keys, e.g. licences and notes, are ignored)."""
        return cls(
            name=raw["name"],
            source_repo=raw["source_repo"],
            commit=raw["commit"],
            source_path=raw["source_path"],
            sha256=raw["sha256"],
            size=int(raw["bytes"]),
            file=raw["file"],
            eval_file=raw.get("eval_file"),
            hold_s=float(raw.get("hold_s", 0)),
            keep_until_s=raw.get("keep_until_s"),
            local_fallback=raw.get("local_fallback"),
        )


def load_manifest(path: Path) -> list[Source]:
    """The manifest's entries, in order."""
    return [Source.from_json(raw) for raw in json.loads(path.read_text(encoding="utf-8"))]


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def git_dir(mirror: Path, repo: str) -> Path | None:
    """The git dir of ``owner/name`` under ``mirror`` (``owner+name/repo[/.git]``), if any."""
    base = mirror / repo.replace("/", "+")
    for candidate in (base / "repo" / ".git", base / "repo", base / ".git", base):
        if (candidate / "HEAD").is_file() and (candidate / "objects").is_dir():
            return candidate
    return None


def read_source(src: Source, mirror: Path) -> bytes:
    """The clip's bytes from its repository snapshot (or its named local copy)."""
    gdir = git_dir(mirror, src.source_repo)
    if gdir is not None:
        spec = f"{src.commit}:{src.source_path}"
        done = subprocess.run(
            ["git", "--git-dir", str(gdir), "show", spec], capture_output=True, check=False
        )
        if done.returncode == 0:
            return done.stdout
        if src.local_fallback is None:
            err = done.stderr.decode(errors="replace").strip()
            raise RebuildError(f"{src.name}: git show {spec} in {gdir} failed: {err}")
    if src.local_fallback is not None and Path(src.local_fallback).is_file():
        return Path(src.local_fallback).read_bytes()
    hint = f"fetch github:{src.source_repo}"
    if src.local_fallback is not None:
        hint += f" (or install the file {src.local_fallback})"
    raise RebuildError(f"{src.name}: no snapshot of {src.source_repo} under {mirror}; {hint}")


def check_bytes(src: Source, data: bytes) -> None:
    """Raise unless ``data`` is exactly the file the manifest names."""
    actual = hashlib.sha256(data).hexdigest()
    if len(data) != src.size or actual != src.sha256:
        raise RebuildError(
            f"{src.name}: {src.source_repo}@{src.commit[:12]}:{src.source_path} is not the "
            f"expected file: expected sha256 {src.sha256} ({src.size} bytes), "
            f"got {actual} ({len(data)} bytes)"
        )


def write_atomic(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` through a temporary file in the same folder."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def extract(src: Source, root: Path, mirror: Path) -> bool:
    """Put the clip at ``root/src.file``; False when it was already there and correct."""
    target = root / src.file
    if target.is_file() and target.stat().st_size == src.size and sha256_of(target) == src.sha256:
        return False
    data = read_source(src, mirror)
    check_bytes(src, data)
    write_atomic(target, data)
    return True


COMMON_RATES = tuple(
    Fraction(r) for r in ("24000/1001", "24", "25", "30000/1001", "30", "50", "60000/1001", "60")
) + tuple(Fraction(r) for r in ("10", "12.5", "15", "20"))


def frame_rate(stream: Any) -> Fraction:
    """The stream's frame rate: its average rate, snapped to a common rate within 0.2 %.

    Phones and NVRs write rates such as 30.0025; the eval file gets the plain 30.
    """
    rate = Fraction(stream.average_rate or stream.guessed_rate or 25)
    nearest = min(COMMON_RATES, key=lambda common: abs(rate - common))
    if abs(rate - nearest) / nearest < Fraction(2, 1000):
        return nearest
    return rate.limit_denominator(1001)


def decoded_frames(path: Path, keep_until_s: float | None = None) -> Iterator[np.ndarray]:
    """The clip's frames (first video stream) as RGB arrays.

    With ``keep_until_s``, only the frames whose presentation time is before it (used
    where a clip's tail carries a burnt-in overlay that must not reach the detector).
    """
    stop = float("inf") if keep_until_s is None else keep_until_s
    with av.open(str(path)) as container:
        for frame in container.decode(container.streams.video[0]):
            if frame.time is not None and frame.time >= stop:
                break
            yield frame.to_ndarray(format="rgb24")


def even(image: np.ndarray) -> np.ndarray:
    """Crop one pixel row/column where a side is odd (yuv420p needs even sides)."""
    h, w = image.shape[:2]
    return image[: h - h % 2, : w - w % 2]


def encode_held(clip: Path, target: Path, hold_s: float, keep_until_s: float | None = None) -> int:
    """Re-encode ``clip`` to ``target`` (H.264 MP4) with its last frame held ``hold_s`` s.

    Keeps the clip's frame rate and size (cropped by one pixel where a side is odd);
    frames are numbered from 0 at a constant rate, so times start at 0. With
    ``keep_until_s`` the clip is cut there first and the last frame kept is the one held.
    Returns the number of frames written.
    """
    with av.open(str(clip)) as probe:
        rate = frame_rate(probe.streams.video[0])
    gop = max(1, round(float(rate)))
    params = f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0"
    options = {"g": str(gop), "bf": "0", "preset": "veryfast", "crf": "23", "x264-params": params}
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.stem}.partial{target.suffix}")
    count = 0
    try:
        with av.open(str(tmp), mode="w", format="mp4") as out:
            stream = out.add_stream("libx264", rate=rate, options=options)
            stream.pix_fmt = "yuv420p"
            last: np.ndarray | None = None
            for image in decoded_frames(clip, keep_until_s):
                image = even(image)
                if count == 0:
                    stream.height, stream.width = image.shape[:2]
                count = _mux(out, stream, image, count, rate)
                last = image
            if last is None:
                raise RebuildError(f"{clip}: no video frames")
            for _ in range(round(hold_s * float(rate))):
                count = _mux(out, stream, last, count, rate)
            out.mux(stream.encode(None))
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return count


def _mux(out: Any, stream: Any, image: np.ndarray, index: int, rate: Fraction) -> int:
    frame = av.VideoFrame.from_ndarray(image, format="rgb24")
    frame.pts = index
    frame.time_base = 1 / rate
    out.mux(stream.encode(frame))
    return index + 1


def rebuild(src: Source, root: Path, mirror: Path) -> None:
    """Extract one clip and make its eval_file; prints what it did."""
    fresh = extract(src, root, mirror)
    print(f"{src.name}: {'extracted' if fresh else 'already there'} {src.file}", flush=True)
    if src.eval_file is None:
        return
    target = root / src.eval_file
    if target.is_file() and not fresh:
        print(f"{src.name}: already there {src.eval_file}", flush=True)
        return
    frames = encode_held(root / src.file, target, src.hold_s, src.keep_until_s)
    cut = "" if src.keep_until_s is None else f", cut at {src.keep_until_s:g} s"
    print(f"{src.name}: wrote {src.eval_file} ({frames} frames{cut}, {src.hold_s:g} s held)")


def main(argv: list[str] | None = None) -> int:
    """Rebuild every clip (or those named with ``--only``); 1 if any failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", type=Path, default=DEFAULT_MIRROR, help="snapshot folder")
    parser.add_argument("--only", action="append", default=[], metavar="NAME", help="clip name")
    parser.add_argument("--manifest", type=Path, default=HERE / "manifest.json")
    args = parser.parse_args(argv)
    sources = load_manifest(args.manifest)
    unknown = sorted(set(args.only) - {s.name for s in sources})
    if unknown:
        parser.error(f"not in the manifest: {', '.join(unknown)}")
    chosen = [s for s in sources if not args.only or s.name in args.only]
    failed: list[str] = []
    for src in chosen:
        try:
            rebuild(src, args.manifest.parent, args.mirror)
        except (RebuildError, av.FFmpegError, OSError) as exc:
            print(f"FAILED {exc}", file=sys.stderr, flush=True)
            failed.append(src.name)
    print(f"{len(chosen) - len(failed)} of {len(chosen)} clips rebuilt", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
