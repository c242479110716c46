"""``gridwatch edge replay VIDEO``: run the edge pipeline on a recorded file.

Decodes with PyAV at full speed, samples a frame every ``--interval`` seconds (only
keyframes are decoded when the GOP fits in the interval, like the live agent), and runs
the same motion gate, detector, tracker and rules as a live camera. Each event is
printed as one JSON object per line (``--json``) with times in seconds into the video.

Example::

    gridwatch edge replay dumping.mp4 --zones '[{"purpose": "no_dumping",
        "polygon": [[0,0.6],[0.5,0.6],[0.5,1],[0,1]]}]' --json
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click
import numpy as np
import numpy.typing as npt

from gridwatch.registry.zones import Zone

if TYPE_CHECKING:
    from edge_agent.analyzer import CameraAnalyzer
    from edge_agent.detections import Detections
    from edge_agent.detector import Detector
    from edge_agent.events import Event

Image = npt.NDArray[np.uint8]


def gop_seconds(path: Path, max_packets: int = 600) -> float | None:
    """Seconds between the first two keyframes (None: fewer than two in the first packets)."""
    import av

    keys: list[float] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for i, packet in enumerate(container.demux(stream)):
            if packet.is_keyframe and packet.pts is not None and packet.time_base is not None:
                keys.append(float(packet.pts * packet.time_base))
                if len(keys) == 2:
                    return keys[1] - keys[0]
            if i >= max_packets:
                break
    return None


def video_seconds(path: Path) -> float | None:
    """The duration of a video file from its header (None when the file does not say)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        if container.duration is not None:
            return float(container.duration) / 1_000_000
    return None


def sample_frames(
    path: Path, interval: float, max_side: int | None = None
) -> Iterator[tuple[float, Image]]:
    """(seconds into the video, BGR frame) every ``interval`` seconds.

    Frames are shrunk like the live agent's (longer side at most ``max_side``), so a
    replay sees what a live camera of the same stream would.
    """
    import av

    from edge_agent.ingest.frames import analysis_size

    gop = gop_seconds(path)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if gop is not None and 0 < gop <= interval:
            stream.codec_context.skip_frame = "NONKEY"
        next_t = 0.0
        for frame in container.decode(stream):
            t = float(frame.time) if frame.time is not None else next_t
            if t + 1e-6 < next_t:
                continue
            width, height = frame.width, frame.height
            if max_side is not None:
                width, height = analysis_size(frame.width, frame.height, max_side)
            image = frame.to_ndarray(format="bgr24", width=width, height=height)
            yield t, np.asarray(image, dtype=np.uint8)
            next_t = t + interval if gop is None or gop > interval else next_t + interval


def frame_at(path: Path, t: float, max_side: int | None = None) -> Image | None:
    """The first frame at or after ``t`` seconds (None: the video ends before)."""
    import av

    from edge_agent.ingest.frames import analysis_size

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if stream.time_base is not None and t > 2:
            container.seek(int((t - 2) / stream.time_base), stream=stream, backward=True)
        for frame in container.decode(stream):
            if frame.time is not None and frame.time + 1e-6 < t:
                continue
            width, height = frame.width, frame.height
            if max_side is not None:
                width, height = analysis_size(width, height, max_side)
            image = frame.to_ndarray(format="bgr24", width=width, height=height)
            return np.asarray(image, dtype=np.uint8)
    return None


@dataclass
class ReplayStats:
    """What one replay did: samples, detector runs and their time, the last sample's time."""

    samples: int = 0
    detector_runs: int = 0
    detect_s: float = 0.0
    last_t: float = 0.0


SampleHook = Callable[[float, Image, "Detections"], None]


def replay_video(
    video: Path,
    analyzer: CameraAnalyzer,
    detector: Detector,
    *,
    interval: float,
    max_side: int | None,
    stats: ReplayStats | None = None,
    on_sample: SampleHook | None = None,
) -> Iterator[Event]:
    """Run the edge pipeline on ``video``; yields its events in order.

    The same stages as a live camera: motion gate, detector, static objects, tracker,
    rules. ``on_sample(t, image, seen)`` is called after each sample with what the
    tracker was given (detections and static objects), e.g. to show progress or keep a
    trace; ``stats`` is filled in as it goes.
    """
    stats = stats if stats is not None else ReplayStats()
    look = detector.second_look(analyzer.static.second_look_imgsz)
    for t, image in sample_frames(video, interval, max_side):
        stats.samples += 1
        stats.last_t = t
        detections = None
        if analyzer.should_detect(t, image):
            t0 = time.perf_counter()
            detections = detector.detect([image])[0]
            stats.detect_s += time.perf_counter() - t0
            stats.detector_runs += 1
        yield from analyzer.process(t, image, detections, look)
        if on_sample is not None:
            on_sample(t, image, analyzer.seen)


def _zones(spec: str | None) -> list[Zone]:
    from gridwatch.registry.zones import parse_zones

    if not spec:
        return []
    text = spec if spec.lstrip().startswith("[") else Path(spec).read_text(encoding="utf-8")
    return parse_zones(text)


@click.command()
@click.argument("video", type=click.Path(path_type=Path))
@click.option("--zones", "zones_spec", help="Zones: a JSON file or inline JSON list.")
@click.option("--rules", "rules_file", type=click.Path(path_type=Path), help="Rules YAML.")
@click.option("--camera-id", help="Camera id of the events (default: the file stem).")
@click.option("--interval", type=float, default=1.0, show_default=True, help="Seconds/sample.")
@click.option("--model", "model_name", help="Catalogue entry (default: the catalogue's).")
@click.option("--catalogue", type=click.Path(path_type=Path), help="models/catalogue.yaml.")
@click.option("--imgsz", type=int, help="Detector input size (default: the catalogue's).")
@click.option("--evidence-dir", type=click.Path(path_type=Path), help="Write evidence here.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per event per line.")
@click.pass_context
def replay(
    ctx: click.Context,
    video: Path,
    zones_spec: str | None,
    rules_file: Path | None,
    camera_id: str | None,
    interval: float,
    model_name: str | None,
    catalogue: Path | None,
    imgsz: int | None,
    evidence_dir: Path | None,
    as_json: bool,
) -> None:
    """Run the edge pipeline on a recorded VIDEO file and print its events."""
    from edge_agent.analyzer import CameraAnalyzer
    from edge_agent.catalogue import MissingWeightsError, load_catalogue
    from edge_agent.detector import Detector
    from edge_agent.rules.config import for_model, load_rules
    from gridwatch.config import ConfigError, load_settings
    from gridwatch.registry.zones import ZoneError

    if interval <= 0:
        raise click.BadParameter("must be > 0", param_hint="--interval")
    if not video.is_file():
        raise click.ClickException(f"{video}: no such file")
    try:
        edge = load_settings(ctx.obj.get("config_file") if ctx.obj else None).edge
        zones = _zones(zones_spec)
        entry = load_catalogue(catalogue).get(model_name)
        rules = for_model(load_rules(rules_file).active(), entry.words())
        config = edge.detector.model_copy(
            update={"model": entry.name, "imgsz": imgsz or edge.detector.imgsz}
        )
        detector = Detector(entry, config)
    except (ConfigError, ZoneError, KeyError, MissingWeightsError) as exc:
        raise click.ClickException(str(exc)) from None
    analyzer = CameraAnalyzer(
        camera_id or video.stem,
        zones,
        rules,
        model=entry.name,
        motion=edge.motion,
        evidence=edge.evidence,
        static=edge.static,
    )
    started, stats = time.perf_counter(), ReplayStats()
    max_side = edge.ingest.analysis_max_side
    try:
        for event in replay_video(
            video, analyzer, detector, interval=interval, max_side=max_side, stats=stats
        ):
            _emit(event, as_json, evidence_dir)
    except Exception as exc:  # av.error.* and friends: a file we cannot read
        if stats.samples == 0:
            raise click.ClickException(f"{video}: cannot read video ({exc})") from None
        raise
    n = stats.samples
    if n == 0:
        raise click.ClickException(f"{video}: no video frames")
    wall = time.perf_counter() - started
    runs = stats.detector_runs
    click.echo(
        f"{video.name}: {n} samples, {runs} detector runs ({1 - runs / n:.0%} skipped), "
        f"{stats.detect_s / max(1, runs) * 1000:.0f} ms/detect, {wall:.1f} s wall",
        err=True,
    )


def _emit(event: object, as_json: bool, evidence_dir: Path | None) -> None:
    from edge_agent.events import Event

    assert isinstance(event, Event)
    summary = event.summary()
    if evidence_dir is not None:
        evidence_dir.mkdir(parents=True, exist_ok=True)
        files = {}
        for name, data in event.blobs().items():
            target = evidence_dir / f"{event.event_id}-{event.phase.value}-{name}"
            target.write_bytes(data)
            files[name] = str(target)
        summary["evidence_files"] = files
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False))
    else:
        click.echo(
            f"{summary['t_event_s']:8.1f}s {summary['phase']:5} {summary['event_code']} "
            f"{summary['rule_id']} zone={summary['zone_id']} conf={summary['confidence']}"
        )
    sys.stdout.flush()
