"""Child processes of ``gridwatch bench edge``: the alternatives, measured on the same streams.

Each runs in its own process so that its CPU time (every thread, FFmpeg's included) is
its own, and prints one JSON line on stdout::

    python -m benchmarks.edge_probe decode pyav-key|pyav-all|opencv URL SECONDS
    python -m benchmarks.edge_probe ultralytics STREAMS_FILE WEIGHTS SECONDS IMGSZ DEVICE

``decode``: read one RTSP camera for SECONDS after its first frame: PyAV keyframes only
(+ BGR), PyAV decoding every frame (no conversion), or OpenCV ``read()`` of every frame.
``ultralytics``: ``YOLO.predict(source=<.streams file>, stream=True)``, the way the
ultralytics docs read many cameras (OpenCV reads every frame of each stream in a thread,
the model takes the latest frame of each), for SECONDS after the first result.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from typing import Any

RTSP_OPTIONS = {
    "rtsp_transport": "tcp",
    "timeout": "5000000",
    "analyzeduration": "0",
    "probesize": "32",
}
# OpenCV's FFmpeg backend reads this; TCP like our readers, so both pay the same receive.
os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")


def _pyav(url: str, seconds: float, keyframes_only: bool) -> dict[str, Any]:
    import av

    container = av.open(url, options=RTSP_OPTIONS, timeout=(5, 5))
    stream = container.streams.video[0]
    if keyframes_only:
        stream.codec_context.skip_frame = "NONKEY"
    frames = 0
    cpu0 = wall0 = 0.0
    try:
        for packet in container.demux(stream):
            if packet.size == 0:
                raise RuntimeError("the stream ended")
            for frame in packet.decode():
                if keyframes_only:
                    frame.to_ndarray(format="bgr24")
                if frames == 0:
                    cpu0, wall0 = time.process_time(), time.perf_counter()
                frames += 1
            if frames and time.perf_counter() - wall0 >= seconds:
                break
    finally:
        container.close()
    return _figures(frames - 1, cpu0, wall0)


def _opencv(url: str, seconds: float) -> dict[str, Any]:
    import cv2

    cap = cv2.VideoCapture(url, cv2.CAP_FFMPEG)
    if not cap.isOpened():
        raise RuntimeError("OpenCV could not open the stream")
    frames = 0
    cpu0 = wall0 = 0.0
    try:
        while True:
            ok, _ = cap.read()
            if not ok:
                raise RuntimeError("OpenCV read() failed")
            if frames == 0:
                cpu0, wall0 = time.process_time(), time.perf_counter()
            frames += 1
            if time.perf_counter() - wall0 >= seconds:
                break
    finally:
        cap.release()
    return _figures(frames - 1, cpu0, wall0)


def _figures(frames: int, cpu0: float, wall0: float) -> dict[str, Any]:
    return {
        "frames": frames,
        "cpu_s": time.process_time() - cpu0,
        "wall_s": time.perf_counter() - wall0,
    }


def _ultralytics(
    streams_file: str, weights: str, seconds: float, imgsz: int, device: str
) -> dict[str, Any]:
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "False")
    from ultralytics import YOLO

    model = YOLO(weights, task="detect")
    started = time.perf_counter()
    per_source: Counter[str] = Counter()
    cpu0 = wall0 = 0.0
    first_after = 0.0
    results = model.predict(
        source=streams_file, stream=True, imgsz=imgsz, device=device, verbose=False
    )
    for result in results:
        if not per_source:
            cpu0, wall0 = time.process_time(), time.perf_counter()
            first_after = wall0 - started
        per_source[str(getattr(result, "path", ""))] += 1
        if time.perf_counter() - wall0 >= seconds:
            break
    out = _figures(sum(per_source.values()), cpu0, wall0)
    out["per_source"] = dict(per_source)
    out["open_s"] = first_after
    return out


def main(argv: list[str]) -> int:
    what = argv[0]
    if what == "decode":
        mode, url, limit = argv[1], argv[2], float(argv[3])
        if mode == "opencv":
            out = _opencv(url, limit)
        elif mode in ("pyav-key", "pyav-all"):
            out = _pyav(url, limit, keyframes_only=mode == "pyav-key")
        else:
            raise SystemExit(f"unknown decode mode {mode!r}")
    elif what == "ultralytics":
        streams, weights, seconds, imgsz, device = argv[1:6]
        out = _ultralytics(streams, weights, float(seconds), int(imgsz), device)
    else:
        raise SystemExit(f"unknown probe {what!r}")
    print(json.dumps(out), flush=True)
    # ultralytics' stream reader threads may block on a socket: do not wait for them.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
