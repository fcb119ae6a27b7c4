"""Clocks the health model reads time from.

The model never calls time.* itself: it is handed a clock, so its unit tests drive a ManualClock
and the server uses a MonotonicClock (immune to wall-clock jumps).
"""

import threading
import time


class MonotonicClock:
    """Seconds from an arbitrary origin, from time.monotonic()."""

    def now(self) -> float:
        return time.monotonic()


class ManualClock:
    """A clock that only moves when a test says so."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds
