"""The one base of every long-running gridwatch process: name, logging, signals, stop.

A :class:`Service` has a name (used as its logger name), installs SIGTERM/SIGINT
handlers that ask it to stop gracefully, runs its :meth:`Service.serve` loop and turns
the result into an exit code: ``0`` after a requested stop, ``1`` when any worker
recorded an error (the first one is kept and logged once; later ones only counted).

>>> class Once(Service):
...     def serve(self) -> None:
...         self.request_stop("done")
>>> Once("once").run(install_signals=False)
0
"""

from __future__ import annotations

import logging
import signal
import threading
from abc import ABC, abstractmethod
from types import FrameType

EXIT_OK = 0
EXIT_FAILED = 1


class Service(ABC):
    """Base of a long-running process; subclasses implement :meth:`serve`.

    ``serve`` must return soon after :attr:`stopping` is set, having finished what is in
    flight (for the aggregator: the open commit batch and its acks).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.log = logging.getLogger(name)
        self.stopping = threading.Event()
        self._error_lock = threading.Lock()
        self.first_error: BaseException | None = None
        self.error_count = 0

    # ------------------------------------------------------------------ errors

    def record_error(self, exc: BaseException, where: str) -> None:
        """Keep the first error (logged with its traceback) and ask the service to stop."""
        with self._error_lock:
            self.error_count += 1
            first = self.first_error is None
            if first:
                self.first_error = exc
        if first:
            self.log.error("%s failed: %s", where, exc, exc_info=exc)
        self.request_stop(f"error in {where}")

    # ------------------------------------------------------------------ stopping

    def request_stop(self, why: str) -> None:
        if not self.stopping.is_set():
            self.log.info("%s stopping (%s)", self.name, why)
            self.stopping.set()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.request_stop(signal.Signals(signum).name)

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT ask for a graceful stop (main thread only)."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    # ------------------------------------------------------------------ running

    @abstractmethod
    def serve(self) -> None:
        """Run until :attr:`stopping` is set, then finish what is in flight."""

    def run(self, *, install_signals: bool = True) -> int:
        """Serve until stopped; return the process exit code (0 ok, 1 on any error)."""
        if install_signals:
            self.install_signal_handlers()
        try:
            self.serve()
        except Exception as exc:
            self.record_error(exc, self.name)
        if self.first_error is not None:
            self.log.error(
                "%s exits with an error (%d recorded; first: %s)",
                self.name,
                self.error_count,
                self.first_error,
            )
            return EXIT_FAILED
        self.log.info("%s stopped cleanly", self.name)
        return EXIT_OK
