"""Rebuild the real-footage development set from the repositories it was taken from.

The clips are third-party footage and stay out of git; ``manifest.json`` says where each
one comes from (repository, commit, path, sha256, size). This script takes every clip out
of a local git snapshot of its repository (``git show COMMIT:PATH``), checks its bytes and
hash, writes it under ``eval/real/clips/`` and then makes its ``eval_file``: the clip
re-encoded as H.264 (GOP of about one second, no B-frames, yuv420p, even size) with its
last frame held for ``hold_s`` seconds, so that an object that stays to the end of a short
clip is still there when the detector's dwell and end-of-incident waits have run out. An
entry with ``keep_until_s`` is cut there before the hold (its tail has a burnt-in overlay).

An entry with ``"kind": "image_sequence"`` comes from a folder of still frames (JPEG/PNG)
instead of one video file: the script lists the folder at the commit, checks the number
of frames and ``frames_sha256`` (the sha256 of the lines ``NAME<TAB>SHA256`` of every
frame, sorted by name), and assembles them, in name order, into ``file`` (H.264 MP4 at
the entry's ``fps``). ``sha256``/``bytes`` of such an entry are those of the assembled
clip as built here; another PyAV/x264 build may give other bytes from the same frames,
which is reported but not an error (the frames themselves are what is checked).

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
import fnmatch
import hashlib
import io
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
    kind: str = "file"
    frame_glob: str | None = None
    frame_count: int | None = None
    frames_sha256: str | None = None
    fps: str | None = None

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
            kind=raw.get("kind", "file"),
            frame_glob=raw.get("frame_glob"),
            frame_count=raw.get("frame_count"),
            frames_sha256=raw.get("frames_sha256"),
            fps=raw.get("fps"),
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
    if src.kind == "image_sequence":
        assemble_sequence(src, target, mirror)
        return True
    data = read_source(src, mirror)
    check_bytes(src, data)
    write_atomic(target, data)
    return True


def list_frames(src: Source, gdir: Path) -> list[tuple[str, str]]:
    """The ``(name, blob id)`` of every frame of an image-sequence entry, sorted by name."""
    folder = src.source_path.rstrip("/")
    done = subprocess.run(
        ["git", "--git-dir", str(gdir), "ls-tree", src.commit, f"{folder}/"],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace").strip()
        raise RebuildError(f"{src.name}: git ls-tree {src.commit}:{folder} in {gdir} failed: {err}")
    pattern = src.frame_glob or "*"
    frames: list[tuple[str, str]] = []
    for line in done.stdout.decode().splitlines():
        meta, _, path = line.partition("\t")
        parts = meta.split()
        name = path.rsplit("/", 1)[-1]
        if len(parts) == 3 and parts[1] == "blob" and fnmatch.fnmatchcase(name, pattern):
            frames.append((name, parts[2]))
    return sorted(frames)


def read_blobs(gdir: Path, blob_ids: list[str]) -> Iterator[bytes]:
    """The contents of ``blob_ids``, in order, through one ``git cat-file --batch``."""
    with subprocess.Popen(
        ["git", "--git-dir", str(gdir), "cat-file", "--batch"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        for blob in blob_ids:
            proc.stdin.write(f"{blob}\n".encode())
            proc.stdin.flush()
            header = proc.stdout.readline().decode().split()
            if len(header) != 3 or header[1] != "blob":
                raise RebuildError(f"git cat-file: no blob {blob} ({' '.join(header)})")
            data = proc.stdout.read(int(header[2]))
            proc.stdout.read(1)
            yield data
        proc.stdin.close()


def frames_digest(named: list[tuple[str, bytes]]) -> str:
    """sha256 of the lines ``NAME<TAB>SHA256`` of every frame (sorted by name)."""
    digest = hashlib.sha256()
    for name, data in sorted(named, key=lambda item: item[0]):
        digest.update(f"{name}\t{hashlib.sha256(data).hexdigest()}\n".encode())
    return digest.hexdigest()


def decode_still(data: bytes) -> np.ndarray:
    """One JPEG or PNG frame as an RGB array (decoded by PyAV)."""
    fmt = "png_pipe" if data[:8] == b"\x89PNG\r\n\x1a\n" else "jpeg_pipe"
    with av.open(io.BytesIO(data), mode="r", format=fmt) as container:
        for frame in container.decode(video=0):
            return frame.to_ndarray(format="rgb24")
    raise RebuildError("a frame with no picture in it")


def assemble_sequence(src: Source, target: Path, mirror: Path) -> None:
    """Check an image-sequence entry's frames and assemble them into ``target``."""
    gdir = git_dir(mirror, src.source_repo)
    if gdir is None:
        raise RebuildError(
            f"{src.name}: no snapshot of {src.source_repo} under {mirror}; "
            f"fetch github:{src.source_repo}"
        )
    listed = list_frames(src, gdir)
    if src.frame_count is not None and len(listed) != src.frame_count:
        raise RebuildError(
            f"{src.name}: {src.source_path} at {src.commit[:12]} has {len(listed)} frames "
            f"matching {src.frame_glob!r}, expected {src.frame_count}"
        )
    blobs = read_blobs(gdir, [blob for _, blob in listed])
    named = list(zip((name for name, _ in listed), blobs, strict=True))
    actual = frames_digest(named)
    if actual != src.frames_sha256:
        raise RebuildError(
            f"{src.name}: frames of {src.source_repo}@{src.commit[:12]}:{src.source_path} are "
            f"not the expected ones: expected frames_sha256 {src.frames_sha256}, got {actual}"
        )
    rate = Fraction(src.fps or "25")
    images = (decode_still(data) for _, data in named)
    encode_frames(images, target, rate, hold_s=0.0, crf=18)
    if target.stat().st_size != src.size or sha256_of(target) != src.sha256:
        print(
            f"{src.name}: note: assembled {src.file} differs from the recorded build "
            f"(sha256 {sha256_of(target)}, {target.stat().st_size} bytes); the frames matched, "
            "so this is another PyAV/x264 build",
            flush=True,
        )


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
    return encode_frames(decoded_frames(clip, keep_until_s), target, rate, hold_s)


def encode_frames(
    images: Iterator[np.ndarray], target: Path, rate: Fraction, hold_s: float, crf: int = 23
) -> int:
    """Encode RGB ``images`` to ``target`` (H.264 MP4 at ``rate``), the last held ``hold_s`` s.

    GOP of round(rate) frames, no B-frames, no scene-cut keyframes, yuv420p, even size;
    frames numbered from 0. Returns the number of frames written.
    """
    gop = max(1, round(float(rate)))
    params = f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0"
    options = {
        "g": str(gop),
        "bf": "0",
        "preset": "veryfast",
        "crf": str(crf),
        "x264-params": params,
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.stem}.partial{target.suffix}")
    count = 0
    try:
        with av.open(str(tmp), mode="w", format="mp4") as out:
            stream = out.add_stream("libx264", rate=rate, options=options)
            stream.pix_fmt = "yuv420p"
            last: np.ndarray | None = None
            for image in images:
                image = even(image)
                if count == 0:
                    stream.height, stream.width = image.shape[:2]
                count = _mux(out, stream, image, count, rate)
                last = image
            if last is None:
                raise RebuildError(f"{target}: no video frames")
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
