"""Timers and the clock of the embedded engine: durable timers fire from one loop; with a
virtual clock (tests) the engine jumps to the next timer or backoff whenever it is idle.
See :mod:`.state` for how the engine is split."""

from __future__ import annotations

import asyncio
import heapq

from ..core import model as m
from .control import RunControl
from .state import _Pending

#: Runs made ready by due timers at most at a time (a few batches' worth; see _release_due_timers).
DUE_IN_FLIGHT = 2048


class RunClock(RunControl):
    """The timer loop, engine-clock sleeps and idle detection (time skipping)."""

    # -- timers ----------------------------------------------------------------------------------

    def _release_due_timers(self) -> bool:
        """Make runs whose timers are due ready, while fewer than :data:`DUE_IN_FLIGHT` runs
        are ready: when 100,000 sleepers wake at once, the rest stay one heap entry each until
        the engine gets to them (a pending job, a ready entry and their lists for every one of
        them were tens of MB and a garbage-collector heap that slowed every wake). True when
        due timers are left for later."""
        timers = self._timers
        now = self.clock.now_ns()
        room = DUE_IN_FLIGHT - len(self._ready)
        held = False
        while timers and timers[0][0] <= now:
            if room <= 0:
                held = True
                break
            _, run_id, seq = heapq.heappop(timers)
            self._pending.setdefault(run_id, []).append(_Pending(m.FireTimer(seq=seq), timer=seq))
            self._mark_ready(run_id)
            room -= 1
        if self._due_held and not held:
            self._timer_kick.set()  # the backlog is gone: the timer loop waits for the next one again
        self._due_held = held
        return held

    def _timers_due(self) -> bool:
        return bool(self._timers) and self._timers[0][0] <= self.clock.now_ns()

    async def _timer_loop(self) -> None:
        while True:
            now = self.clock.now_ns()
            self._release_due_timers()  # what it leaves, the activation loop releases as it drains
            self._timer_kick.clear()
            if self.clock.virtual:
                await self._timer_kick.wait()
                continue
            first = self._timers[0][0] if self._timers else None
            # Due timers held back wait for the activation loop, not for this one.
            delay = 3600.0 if first is None or first <= now else (first - now) / 1e9
            # asyncio.timeout, not wait_for: a wait_for cancelled by stop() could hang for good.
            try:
                async with asyncio.timeout(max(delay, 0.0005)):
                    await self._timer_kick.wait()
            except TimeoutError:
                pass

    def arm_wakeup(self, ns: int) -> None:
        """A retry backoff that a virtual clock must jump to when the engine is idle."""
        heapq.heappush(self._wakeups, ns)

    async def sleep_ns(self, ns: int, *, idle: bool = True) -> None:
        """Sleep on the engine clock. With a virtual clock an ``idle`` sleeper registers a
        wake-up and does not keep the engine busy, so time skipping can jump to it; a deadline
        (``idle=False``) is a wake-up too but keeps its owner counted as busy."""
        if not self.clock.virtual:
            await asyncio.sleep(ns / 1e9)
            return
        target = self.clock.now_ns() + ns
        self.arm_wakeup(target)
        if idle:
            self.virtual_sleepers += 1
        try:
            while self.clock.now_ns() < target:
                await self.clock_moved()
        finally:
            if idle:
                self.virtual_sleepers -= 1
            if target in self._wakeups:  # a finished or cancelled sleep must not pull the clock
                self._wakeups.remove(target)
                heapq.heapify(self._wakeups)

    async def clock_moved(self) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._clock_waiters.append(fut)
        await fut

    def next_wakeup_ns(self) -> int | None:
        now = self.clock.now_ns()
        while self._wakeups and self._wakeups[0] <= now:
            heapq.heappop(self._wakeups)
        candidates = [t for t in (self._timers[0][0] if self._timers else None,
                                  self._wakeups[0] if self._wakeups else None) if t is not None]  # fmt: skip
        return min(candidates) if candidates else None

    def advance_clock(self, ns: int) -> None:
        """Move a virtual clock to ``ns`` and let timers and backoffs due by then fire."""
        self.clock.advance_to(ns)
        waiters, self._clock_waiters = self._clock_waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)
        self._timer_kick.set()

    def is_idle(self) -> bool:
        return not self._ready and not self.activities.busy() and not self._timers_due()

    def _notify_idle(self) -> None:
        waiters, self._idle_waiters = self._idle_waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    async def wait_idle(self) -> None:
        """Wait until no run is ready and no activity is running (tests, time skipping)."""
        while not self.is_idle():
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._idle_waiters.append(fut)
            self._kick.set()
            try:
                await asyncio.wait_for(fut, timeout=0.05)
            except TimeoutError:
                pass
            await asyncio.sleep(0)
