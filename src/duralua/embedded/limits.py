"""Per-worker activity limits of the embedded engine (``temporal.worker`` ``worker_options``).

The embedded engine honours what shapes behaviour on Temporal: ``max_concurrent_activity_
execution_size`` and ``max_concurrent_local_activity_execution_size`` (attempts running at
once, per worker), ``worker_activities_per_second`` / ``task_queue_activities_per_second`` and
``worker_local_activities_per_second`` (attempt starts, evenly spaced). Workflow tasks run one at
a time here, which meets any ``max_concurrent_workflow_task_execution_size``. The options that
tune a Temporal worker's polling, caching or shutdown have nothing to act on in one process: they
are named once at start (never silently dropped).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .engine import EmbeddedEngine

SECOND = 1_000_000_000

#: worker_options without effect on the embedded engine, and why.
NO_EFFECT = {
    "max_concurrent_activity_task_pollers": "nothing polls: activities are dispatched in-process",
    "max_concurrent_workflow_task_pollers": "nothing polls: workflow tasks are dispatched in-process",
    "max_concurrent_session_execution_size": "there are no sessions (as in the Python SDK)",
    "enable_session_worker": "there are no sessions (as in the Python SDK)",
    "max_concurrent_eager_activity_execution_size": "eager activities are the engine's own batching",
    "sticky_schedule_to_start_timeout": "there is no sticky queue: every run's state is in this process",
    "worker_stop_timeout": "stopping the engine cancels running attempts, which run again at the next start",
    "max_heartbeat_throttle_interval": "activities do not heartbeat here (the engine runs them itself)",
    "default_heartbeat_throttle_interval": "activities do not heartbeat here (the engine runs them itself)",
    "deadlock_detection_timeout": "the instruction budget bounds a step instead",
    "disable_registration_aliasing": "names are registered as given",
    "enable_logging_in_replay": "replay does not log",
    "identity": "there is one worker process",
    "disable_workflow_worker": "every worker of the app runs its workflows here",
    "local_activity_worker_only": "every worker of the app runs its activities here",
    "disable_eager_activities": "eager execution is the engine's batching, not Temporal's",
    "use_versioning": "there are no worker deployments",
    "deployment_name": "there are no worker deployments",
    "build_id": "there are no worker deployments",
    "build_id_env": "there are no worker deployments",
    "default_versioning_behavior": "there are no worker deployments",
}
_HONOURED = (
    "max_concurrent_activity_execution_size",
    "max_concurrent_local_activity_execution_size",
    "max_concurrent_workflow_task_execution_size",
    "worker_activities_per_second",
    "task_queue_activities_per_second",
    "worker_local_activities_per_second",
)


@dataclass(frozen=True)
class WorkerLimits:
    activities: int = 0  # attempts at once; 0 = no limit
    local_activities: int = 0
    per_second: float = 0.0  # attempt starts per second; 0 = no limit
    local_per_second: float = 0.0

    @property
    def any(self) -> bool:
        return bool(self.activities or self.local_activities or self.per_second or self.local_per_second)


def _number(options: Mapping[str, Any], key: str) -> float:
    value = options.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return 0.0
    return float(value)


def worker_limits(entry_id: str, data: Mapping[str, Any]) -> tuple[WorkerLimits, list[str]]:
    """The limits of a ``temporal.worker`` entry, and notes on the options that do nothing here."""
    options = data.get("worker_options") or {}
    if not isinstance(options, Mapping):
        return WorkerLimits(), []
    notes = [f"{entry_id}: worker_options.{key} has no effect on the embedded engine ({why})"
             for key, why in NO_EFFECT.items() if options.get(key) not in (None, False, 0, "")]  # fmt: skip
    notes += [f"{entry_id}: worker_options.{key} is not a known option and is ignored"
              for key in options if key not in NO_EFFECT and key not in _HONOURED]  # fmt: skip
    rates = [r for r in (_number(options, "worker_activities_per_second"),
                         _number(options, "task_queue_activities_per_second")) if r]  # fmt: skip
    limits = WorkerLimits(
        activities=int(_number(options, "max_concurrent_activity_execution_size")),
        local_activities=int(_number(options, "max_concurrent_local_activity_execution_size")),
        per_second=min(rates) if rates else 0.0,
        local_per_second=_number(options, "worker_local_activities_per_second"),
    )
    return limits, notes


class Gate:
    """Slots and an evenly spaced start rate for one worker's activities (or local ones).

    A caller waiting for a slot or for its start time counts as a virtual sleeper, so a virtual
    clock still jumps while every runnable attempt waits; a freed slot is handed to the next
    waiter directly (FIFO), with no moment at which the engine looks idle."""

    def __init__(self, engine: EmbeddedEngine, slots: int, per_second: float) -> None:
        self.engine = engine
        self.free = slots
        self.slots = slots
        self.interval_ns = int(SECOND / per_second) if per_second else 0
        self._next_ns = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> None:
        if self.interval_ns:
            now = self.engine.clock.now_ns()
            start = max(now, self._next_ns)
            self._next_ns = start + self.interval_ns
            if start > now:
                await self.engine.sleep_ns(start - now)
        if not self.slots:
            return
        if self.free > 0:
            self.free -= 1
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        self.engine.virtual_sleepers += 1
        try:
            await fut
        except asyncio.CancelledError:
            # Whoever takes a waiter out of the queue uncounts it as a sleeper.
            if fut in self._waiters:
                self._waiters.remove(fut)
                self.engine.virtual_sleepers -= 1
            elif fut.done() and not fut.cancelled():
                self.release()  # the slot was handed over just before the cancel
            raise

    def release(self) -> None:
        if not self.slots:
            return
        while self._waiters:
            fut = self._waiters.popleft()
            self.engine.virtual_sleepers -= 1
            if not fut.done():
                fut.set_result(None)
                return
        self.free += 1
