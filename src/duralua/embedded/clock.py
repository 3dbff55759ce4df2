"""Clocks for the embedded engine: the real one, and a virtual one for tests.

The virtual clock lets ``time.sleep("24h")`` finish at once in tests: whenever the engine is
idle (no workflow to activate, no activity running) it jumps to the next timer.
"""

from __future__ import annotations

import time


class Clock:
    """Wall-clock time (Unix nanoseconds)."""

    virtual = False

    def now_ns(self) -> int:
        return time.time_ns()

    def advance_to(self, ns: int) -> None:
        raise RuntimeError("the real clock cannot be moved")


class VirtualClock(Clock):
    """A clock that only moves when told to (or when the engine skips idle time)."""

    virtual = True

    def __init__(self, start_ns: int | None = None) -> None:
        self._now = time.time_ns() if start_ns is None else start_ns

    def now_ns(self) -> int:
        return self._now

    def advance_to(self, ns: int) -> None:
        if ns > self._now:
            self._now = ns

    def advance(self, seconds: float) -> None:
        self._now += int(seconds * 1e9)
