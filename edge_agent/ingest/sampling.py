"""Which packets of one camera to decode, and which decoded frames are due for analysis.

A camera is looked at every ``analysis_interval_s``. Decoding costs: at 1080p a keyframe
takes about 28 ms and a P-frame about 6 ms, so a reader should decode as little as it can:

* **keyframes mode**: the keyframe interval (GOP) fits the analysis interval, so only
  keyframes are decoded, and of those only the ones that are due; a keyframe that is not
  due is never handed to the decoder (interval 2 s on a 1 s GOP decodes every other one).
* **all mode**: the GOP is too long for the interval (a 2 s GOP looked at twice a
  second), so every packet from a keyframe on is decoded and frames are dropped down
  to the analysis rate.
* **learning**: the GOP is not known yet (just connected): keyframes only, like keyframes
  mode, until two keyframes give the spacing or the wait for the second one shows that the
  GOP is longer than the interval allows.

The GOP is measured all the time, so a camera whose GOP is reconfigured moves between
modes by itself. Times are stream seconds (packet pts × time base).

    >>> s = Sampler(analysis_interval_s=1.0)
    >>> s.on_packet(0.0, keyframe=True), s.take(0.0)
    (True, True)
"""

from __future__ import annotations

from enum import StrEnum

# A GOP up to this many times the analysis interval still counts as fitting: a 1.2 s GOP
# looked at every second gives one look per 1.2 s, closer than decoding everything.
FIT_SLACK = 1.25
DEFAULT_FRAME_S = 0.04  # 25 fps until the stream tells otherwise


class Mode(StrEnum):
    LEARNING = "learning"
    KEYFRAMES = "keyframes"
    ALL = "all"


class Sampler:
    """Per-camera decision logic; one instance lives as long as the camera's reader."""

    def __init__(self, analysis_interval_s: float, fit_slack: float = FIT_SLACK) -> None:
        if analysis_interval_s <= 0:
            raise ValueError(f"analysis_interval_s must be positive, got {analysis_interval_s}")
        self.interval_s = analysis_interval_s
        self.fit_s = analysis_interval_s * fit_slack
        self.mode = Mode.LEARNING
        self.gop_s: float | None = None
        self.frame_s = DEFAULT_FRAME_S
        self._last_keyframe: float | None = None
        self._last_t: float | None = None
        self._last_taken: float | None = None
        self._synced = False  # all mode: the decoder has been fed from a keyframe on

    def reset(self) -> None:
        """A new connection: timestamps start over, the decoder is fresh; the GOP is kept."""
        self._last_keyframe = self._last_t = self._last_taken = None
        self._synced = False
        if self.mode is Mode.ALL and self.gop_s is None:
            self.mode = Mode.LEARNING

    def on_packet(self, t: float | None, keyframe: bool) -> bool:
        """Take one packet's time and keyframe flag; True if it should be decoded."""
        if t is not None:
            self._observe(t, keyframe)
        if self.mode is Mode.ALL:
            if keyframe:
                self._synced = True
            return self._synced
        if not keyframe:
            return False
        # Keyframes (or learning): decode only a keyframe that is due. Without a time the
        # packet cannot be placed; only the very first one is worth decoding.
        if t is None:
            return self._last_taken is None
        step = self.gop_s if self.mode is Mode.KEYFRAMES and self.gop_s else 0.0
        return self._due(t, step)

    def take(self, t: float | None) -> bool:
        """A frame at ``t`` was decoded: True if it is due (and it is then counted taken)."""
        if t is None:
            due = self._last_taken is None or self.mode is not Mode.ALL
        else:
            step = self.frame_s if self.mode is Mode.ALL else 0.0
            due = self.mode is not Mode.ALL or self._due(t, step)
        if due and t is not None:
            self._last_taken = t
        return due

    def _due(self, t: float, step: float) -> bool:
        last = self._last_taken
        # Half a step of slack: with a 1 s GOP and a 1 s interval, 0.999 s is due.
        return last is None or t < last or t - last >= self.interval_s - step / 2

    def _observe(self, t: float, keyframe: bool) -> None:
        last_t = self._last_t
        if last_t is not None and 0 < t - last_t < 1.0:
            self.frame_s = min(self.frame_s, t - last_t) if self._has_rate() else t - last_t
        self._last_t = t
        if keyframe:
            previous = self._last_keyframe
            self._last_keyframe = t
            if previous is not None and t > previous:
                self.gop_s = t - previous
                self._set_mode(Mode.KEYFRAMES if self.gop_s <= self.fit_s else Mode.ALL)
        elif self._keyframe_overdue(t):
            # Waiting longer than the interval allows for the next keyframe: the GOP does
            # not fit (or grew); decode everything from the next keyframe on.
            self._set_mode(Mode.ALL)

    def _keyframe_overdue(self, t: float) -> bool:
        if self.mode is Mode.ALL or self._last_keyframe is None:
            return False
        return t - self._last_keyframe > max(self.fit_s, self.gop_s or 0.0) + self.frame_s

    def _has_rate(self) -> bool:
        return self.frame_s != DEFAULT_FRAME_S

    def _set_mode(self, mode: Mode) -> None:
        if mode is Mode.ALL and self.mode is not Mode.ALL:
            self._synced = False
        self.mode = mode
