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
from collections.abc import Iterator
from pathlib import Path

import click
import numpy as np
import numpy.typing as npt

from gridwatch.registry.zones import Zone

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


def sample_frames(path: Path, interval: float) -> Iterator[tuple[float, Image]]:
    """(seconds into the video, BGR frame) every ``interval`` seconds."""
    import av

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
            yield t, np.asarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8)
            next_t = t + interval if gop is None or gop > interval else next_t + interval


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
def replay(
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
    from edge_agent.config import DetectorConfig
    from edge_agent.detector import Detector
    from edge_agent.rules.config import load_rules
    from gridwatch.config import ConfigError
    from gridwatch.registry.zones import ZoneError

    if interval <= 0:
        raise click.BadParameter("must be > 0", param_hint="--interval")
    if not video.is_file():
        raise click.ClickException(f"{video}: no such file")
    try:
        zones = _zones(zones_spec)
        rules = load_rules(rules_file).active()
        entry = load_catalogue(catalogue).get(model_name)
        detector = Detector(entry, DetectorConfig(model=entry.name, imgsz=imgsz))
    except (ConfigError, ZoneError, KeyError, MissingWeightsError) as exc:
        raise click.ClickException(str(exc)) from None
    analyzer = CameraAnalyzer(camera_id or video.stem, zones, rules, model=entry.name)
    started, detect_s, n = time.perf_counter(), 0.0, 0
    try:
        for t, image in sample_frames(video, interval):
            n += 1
            detections = None
            if analyzer.should_detect(t, image):
                t0 = time.perf_counter()
                detections = detector.detect([image])[0]
                detect_s += time.perf_counter() - t0
            for event in analyzer.process(t, image, detections):
                _emit(event, as_json, evidence_dir)
    except Exception as exc:  # av.error.* and friends: a file we cannot read
        if n == 0:
            raise click.ClickException(f"{video}: cannot read video ({exc})") from None
        raise
    if n == 0:
        raise click.ClickException(f"{video}: no video frames")
    wall = time.perf_counter() - started
    runs = analyzer.stats.detector_runs
    click.echo(
        f"{video.name}: {n} samples, {runs} detector runs ({1 - runs / n:.0%} skipped), "
        f"{detect_s / max(1, runs) * 1000:.0f} ms/detect, {wall:.1f} s wall",
        err=True,
    )


def _emit(event: object, as_json: bool, evidence_dir: Path | None) -> None:
    from edge_agent.events import CLIP, SNAPSHOT, Event

    assert isinstance(event, Event)
    summary = event.summary()
    if evidence_dir is not None:
        evidence_dir.mkdir(parents=True, exist_ok=True)
        files = {}
        for name, data in event.blobs().items():
            suffix = {SNAPSHOT: ".jpg", CLIP: ".mp4"}[name]
            target = evidence_dir / f"{event.event_id}-{event.phase.value}{suffix}"
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
