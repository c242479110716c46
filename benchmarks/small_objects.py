"""``gridwatch bench small-objects``: finding a small far car, three ways, side by side.

A car a few percent of the picture wide drives onto a kerb and stays (real street
footage, vtest.avi, with a real photo of a car; 960x540, the edge agent's analysis
size). On the same frames, one sample a second:

- **full frame**: the detector on the whole frame at its input size (640), as every
  sample gets;
- **sliced**: supervision's ``InferenceSlicer`` (tiles of ``--slice`` pixels with
  overlap, each at 640), the usual library answer to small objects, paid on every frame;
- **second look**: the edge pipeline (full frame, then the detector on a crop of each
  new static object, at ``static.second_look_imgsz``): paid per new object.

Reported per car size: the share of samples after it stopped in which the car is found,
and the detector's time per sample (CPU, this machine).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import print_table, write_json

SIZE = (960, 540)
PARKED_AT = 13.0  # the car stops here (s)
JUDGED_FROM = 25.0  # samples from here count: the pipeline has had time to find it


@dataclass
class Tally:
    found: int = 0
    judged: int = 0
    detector_s: float = 0.0
    samples: int = 0

    def row(self) -> dict[str, float]:
        return {
            "found_share": self.found / self.judged if self.judged else 0.0,
            "detector_ms_per_sample": 1000 * self.detector_s / max(1, self.samples),
        }


def _overlaps(box: Any, target: tuple[int, int, int, int]) -> bool:
    return bool(
        box[0] < target[2] and box[2] > target[0] and box[1] < target[3] and box[3] > target[1]
    )


def _car_found(dets: Any, target: tuple[int, int, int, int]) -> bool:
    return any(
        w == "car" and _overlaps(b, target) for w, b in zip(dets.labels, dets.xyxy, strict=True)
    )


def run_size(height_m: float, seconds: float, slice_px: int, detector: Any) -> dict[str, Any]:
    """One car size: the three approaches on the same frames."""
    import supervision as sv

    from edge_agent.analyzer import CameraAnalyzer
    from edge_agent.rules.config import RuleSpec
    from gridwatch.registry.zones import Zone, ZonePurpose
    from gridwatch.scenes import sprites
    from gridwatch.scenes.compose import Actor, Stage, actor_box

    car = Actor(sprites.car, height_m, [(8, 1.1, 0.55), (12, 0.76, 0.55), (PARKED_AT, 0.75, 0.55)])
    car.stays, car.faces_right = True, False
    rule = RuleSpec.model_validate(
        {
            "id": "p",
            "kind": "dwell",
            "event_code": "05-05",
            "zones": ["no_parking"],
            "classes": ["car", "truck", "bus"],
            "dwell_s": 180,
        }
    )
    kerb = Zone("kerb", ZonePurpose.NO_PARKING, ((0.6, 0.45), (0.9, 0.45), (0.9, 0.6), (0.6, 0.6)))
    analyzer = CameraAnalyzer("bench", [kerb], [rule])
    look = detector.second_look(analyzer.static.second_look_imgsz)

    def one_slice(image: np.ndarray) -> sv.Detections:
        dets = detector.detect([image])[0]
        return sv.Detections(
            xyxy=dets.xyxy.astype(np.float32),
            confidence=dets.confidence,
            class_id=dets.class_id,
            data={"word": np.array(dets.labels, dtype=object)},
        )

    slicer = sv.InferenceSlicer(callback=one_slice, slice_wh=slice_px, overlap_wh=slice_px // 5)
    full, sliced, ours = Tally(), Tally(), Tally()
    stage = Stage(SIZE, np.random.default_rng(5))
    box = (0, 0, 0, 0)
    try:
        for t in np.arange(0.0, seconds, 1.0):
            image = stage.frame(float(t), [car])
            box = actor_box(car, float(t), SIZE) or box
            judged = t >= JUDGED_FROM
            started = time.perf_counter()
            dets = detector.detect([image])[0]
            full_s = time.perf_counter() - started
            looks_before = analyzer.statics.stats.second_look_s
            analyzer.process(float(t), image, dets, look)
            look_s = analyzer.statics.stats.second_look_s - looks_before
            started = time.perf_counter()
            tiles = slicer(image)
            sliced_s = time.perf_counter() - started
            for tally, seconds_used in (
                (full, full_s),
                (sliced, sliced_s),
                (ours, full_s + look_s),
            ):
                tally.samples += 1
                tally.detector_s += seconds_used
            if judged:
                full.judged, sliced.judged, ours.judged = (
                    x.judged + 1 for x in (full, sliced, ours)
                )
                full.found += _car_found(dets, box)
                sliced.found += any(
                    w == "car" and _overlaps(b, box)
                    for w, b in zip(tiles.data.get("word", []), tiles.xyxy, strict=True)
                )
                ours.found += _car_found(dets, box) or any(
                    s.label == "car" and _overlaps(s.box, box)
                    for s in analyzer.statics.objects
                    if s.last_seen >= t
                )
    finally:
        stage.close()
    width = box[2] - box[0]
    return {
        "car_height_m": height_m,
        "car_width_px": width,
        "car_width_share": width / SIZE[0],
        "full_frame": full.row(),
        "sliced": sliced.row(),
        "second_look": {**ours.row(), "second_looks": analyzer.statics.stats.second_looks},
    }


def run(sizes: list[float], seconds: float, slice_px: int, json_path: Path | None) -> None:
    """Every car size; prints the table and writes the JSON."""
    from edge_agent.catalogue import load_catalogue
    from edge_agent.detector import Detector

    detector = Detector(load_catalogue().get())
    results = [run_size(h, seconds, slice_px, detector) for h in sizes]
    rows = []
    for r in results:
        for name in ("full_frame", "sliced", "second_look"):
            figures = r[name]
            rows.append(
                [
                    f"{r['car_width_px']} px ({r['car_width_share']:.1%})",
                    name.replace("_", " "),
                    f"{figures['found_share']:.0%}",
                    f"{figures['detector_ms_per_sample']:.0f}",
                ]
            )
    print_table(
        f"a far car stopped on a kerb, 960x540, {seconds:.0f} samples "
        f"(sliced: {slice_px} px tiles)",
        ["car width", "approach", "found (samples after it stopped)", "detector ms/sample"],
        rows,
    )
    write_json(json_path, "small-objects", {"slice_px": slice_px, "sizes": results})
