"""Which model an edge agent runs, re-read without a restart.

The agent asks :meth:`ModelWatch.poll` on every registry poll. It re-reads the model
the configuration names (``edge.detector.model`` in the config file, if the agent was
started from one, else the catalogue's ``default``) and that catalogue entry; when the
entry, or its weights file, changed since the detector was loaded, it loads the new
detector and returns it. A
catalogue or config that does not load, or weights that are missing, keep the running
model (logged once per change), so a half-copied file never stops detection.

>>> watch = ModelWatch(None, settings.edge, None, make_detector)  # doctest: +SKIP
>>> detector = watch.load()  # doctest: +SKIP
>>> detector = watch.poll() or detector  # on every registry poll  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_agent.catalogue import ModelEntry, load_catalogue
from edge_agent.config import EdgeConfig

log = logging.getLogger(__name__)

Fingerprint = tuple[str, str, int, int]


@dataclass(frozen=True)
class ModelChoice:
    """The entry the configuration names now, and what identifies its weights."""

    entry: ModelEntry
    fingerprint: Fingerprint


class ModelWatch:
    """Loads the configured model and notices when the configuration names another."""

    def __init__(
        self,
        config_file: Path | None,
        edge: EdgeConfig,
        weights_dir: Path | None,
        make_detector: Callable[[ModelEntry], Any],
    ) -> None:
        self.config_file = config_file
        self.edge = edge
        self.weights_dir = weights_dir
        self.make_detector = make_detector
        self.current: ModelChoice | None = None
        self._failed: Fingerprint | str | None = None

    def wanted(self) -> ModelChoice:
        """The model the config and catalogue files name now (raises when they do not
        load or the entry's weights are missing)."""
        from gridwatch.config import load_settings

        edge = self.edge
        if self.config_file is not None and self.current is not None:
            edge = load_settings(self.config_file).edge  # only its model and catalogue count
        entry = load_catalogue(edge.models_catalogue).get(edge.detector.model)
        weights = entry.require_weights(self.weights_dir)
        stat = weights.stat()
        return ModelChoice(
            entry, (entry.model_dump_json(), str(weights), stat.st_mtime_ns, stat.st_size)
        )

    def load(self) -> Any:
        """The detector of the configured model (at start: errors propagate)."""
        choice = self.wanted()
        detector = self.make_detector(choice.entry)
        self.current = choice
        return detector

    def poll(self) -> Any | None:
        """A new detector when the configured model changed, else None."""
        try:
            choice = self.wanted()
        except Exception as exc:  # ConfigError, KeyError, MissingWeightsError: keep running
            if self._failed != str(exc):
                log.error("model catalogue or config unusable, keeping the running model: %s", exc)
                self._failed = str(exc)
            return None
        if self.current is not None and choice.fingerprint == self.current.fingerprint:
            return None
        if self._failed == choice.fingerprint:
            return None
        old = self.current.entry.name if self.current else "-"
        try:
            detector = self.make_detector(choice.entry)
        except Exception as exc:  # a file ultralytics cannot load: keep the running model
            log.error("cannot load model %s, keeping %s: %s", choice.entry.name, old, exc)
            self._failed = choice.fingerprint
            return None
        log.info("model switched from %s to %s without a restart", old, choice.entry.name)
        self.current = choice
        self._failed = None
        return detector
