"""The edge agent's health routes, served beside ``/metrics`` on ``--metrics-port``.

Kubernetes (deploy/kubernetes) probes them:

* ``GET /healthz`` (liveness): 200 while the main loop has gone round within
  ``edge.liveness_stall_s`` and the delivery thread runs; 503 otherwise, with the reason
  as the body. A hung detector or a dead publisher gets the pod restarted.
* ``GET /readyz`` (readiness): 200 once the agent is live and has read its cameras from
  the registry; the StatefulSet's rolling update waits for it before the next pod.
* anything else: the Prometheus metrics (``prometheus_client``'s own handler).

The server starts once the detector is loaded (a TensorRT build can take minutes: the
StatefulSet's startup probe allows for it).

>>> probes = AgentProbes(stall_s=60)
>>> probes.liveness()[0], probes.readiness()[0]
(True, False)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import ThreadingHTTPServer

from prometheus_client import REGISTRY
from prometheus_client.exposition import MetricsHandler

LIVENESS_PATH = "/healthz"
READINESS_PATH = "/readyz"


class AgentProbes:
    """What the health routes answer; the agent's loop calls :meth:`tick` each round."""

    def __init__(
        self, stall_s: float, *, publisher_alive: Callable[[], bool] | None = None
    ) -> None:
        self.stall_s = stall_s
        self.publisher_alive = publisher_alive or (lambda: True)
        self.last_tick = time.monotonic()
        self.cameras_read = False

    def tick(self) -> None:
        self.last_tick = time.monotonic()

    def liveness(self) -> tuple[bool, str]:
        stalled = time.monotonic() - self.last_tick
        if stalled > self.stall_s:
            return False, f"main loop stalled for {stalled:.0f} s (limit {self.stall_s:.0f} s)"
        if not self.publisher_alive():
            return False, "the delivery thread is not running"
        return True, "ok"

    def readiness(self) -> tuple[bool, str]:
        live, why = self.liveness()
        if not live:
            return live, why
        if not self.cameras_read:
            return False, "cameras not read from the registry yet"
        return True, "ok"


def serve_probes(port: int, probes: AgentProbes, addr: str = "0.0.0.0") -> ThreadingHTTPServer:
    """Start the metrics + health server in a daemon thread; returns it (``shutdown()``)."""

    class Handler(MetricsHandler):
        registry = REGISTRY

        def do_GET(self) -> None:
            route = self.path.split("?", 1)[0]
            check = {LIVENESS_PATH: probes.liveness, READINESS_PATH: probes.readiness}.get(route)
            if check is None:
                super().do_GET()
                return
            ok, why = check()
            body = (why + "\n").encode()
            self.send_response(200 if ok else 503)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer((addr, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="probes", daemon=True).start()
    return server
