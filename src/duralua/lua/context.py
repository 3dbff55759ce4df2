"""What Lua modules may ask of whoever hosts the Lua state (a function call or a workflow run)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ..codec import JSONValue


class HostContext(Protocol):
    """Services a module installer gets. Workflows answer deterministically; functions use the OS."""

    @property
    def deterministic(self) -> bool:
        """True inside a workflow run: clocks are virtual and side effects are recorded."""
        ...

    def now_ns(self) -> int:
        """Current time in Unix nanoseconds (the workflow clock inside workflows)."""
        ...

    def monotonic_s(self) -> float:
        """Seconds since the runtime started (``os.clock``); not deterministic."""
        ...

    def side_effect(self, name: str, produce: Callable[[], JSONValue]) -> JSONValue:
        """Run ``produce`` once and return its value (a hook for engines that record values)."""
        ...

    def random_bytes(self, n: int) -> bytes:
        """Random bytes: the OS's in ordinary code; inside workflows a PRNG seeded from the run's
        recorded seed, so uuid/crypto randomness replays identically."""
        ...


class SystemContext:
    """HostContext for ordinary (non-durable) code: real clock, side effects just run."""

    deterministic = False

    def __init__(self) -> None:
        import time

        self._time = time
        self._start = time.monotonic()

    def now_ns(self) -> int:
        return self._time.time_ns()

    def monotonic_s(self) -> float:
        return self._time.monotonic() - self._start

    def side_effect(self, name: str, produce: Callable[[], JSONValue]) -> JSONValue:
        return produce()

    def random_bytes(self, n: int) -> bytes:
        import os

        return os.urandom(n)
