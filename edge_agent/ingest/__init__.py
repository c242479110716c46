"""Camera ingest: RTSP readers in worker processes, one latest-frame slot per camera.

::

    reader.py   one camera's PyAV loop (connect, sample, decode, shrink, reconnect)
    sampling.py which packets to decode and which frames are due (keyframes / all)
    frames.py   CameraSource, Frame and the shared-memory FrameSlot
    health.py   CameraHealth (→ protocol.CameraStatus) and counters
    worker.py   a process running many readers
    pool.py     IngestPool, the supervisor the agent uses
"""

from edge_agent.ingest.frames import CameraSource, Frame
from edge_agent.ingest.health import CameraHealth, CameraStats, IngestStats, WorkerStats
from edge_agent.ingest.pool import IngestError, IngestPool

__all__ = [
    "CameraHealth",
    "CameraSource",
    "CameraStats",
    "Frame",
    "IngestError",
    "IngestPool",
    "IngestStats",
    "WorkerStats",
]
