"""Activities of the embedded engine: run in-process with retries and timeouts.

Semantics follow Temporal (spec activities.md §3–§5): an attempt is bounded by
``start_to_close``; a failed attempt is retried with exponential backoff unless the error is
non-retryable (``retryable == false`` or its kind is in ``non_retryable_error_types``) or
the attempts / ``schedule_to_close`` budget is used up. Only the final outcome reaches the
workflow, with ``_wrapper``/``_activity_id``/``_retry_state`` details.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..codec import JSONValue, encode
from ..errors import TIMEOUT, EncodeError, Failure

if TYPE_CHECKING:
    from .engine import EmbeddedEngine

SECOND = 1_000_000_000


@dataclass
class ActivityTask:
    run_id: str
    seq: int
    activity_type: str
    task_queue: str
    args: list[JSONValue]
    options: dict[str, Any]
    context: dict[str, Any]
    attempt: int
    ready_ns: int
    scheduled_ns: int


class ActivityRunner:
    def __init__(self, engine: EmbeddedEngine) -> None:
        self.engine = engine
        self._running: dict[tuple[str, int], asyncio.Task[None]] = {}

    def busy(self) -> bool:
        """True while an attempt is computing (tasks waiting on a virtual sleep do not count)."""
        return len(self._running) > self.engine.virtual_sleepers

    def dispatch(self, task: ActivityTask) -> None:
        key = (task.run_id, task.seq)
        if key in self._running:
            return
        t = asyncio.get_running_loop().create_task(self._run(task))
        self._running[key] = t
        t.add_done_callback(lambda _t: self._running.pop(key, None))

    def cancel(self, run_id: str, seq: int) -> None:
        t = self._running.pop((run_id, seq), None)
        if t is not None:
            t.cancel()

    def cancel_run(self, run_id: str) -> None:
        for key in [k for k in self._running if k[0] == run_id]:
            self.cancel(*key)

    async def stop(self) -> None:
        tasks = list(self._running.values())
        for t in tasks:
            t.cancel()
        for t in tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - shutting down
                pass
        self._running.clear()

    async def _run(self, task: ActivityTask) -> None:
        engine = self.engine
        clock = engine.clock
        opts = task.options
        policy = opts.get("retry_policy") or {}
        initial = int(policy.get("initial_interval_ns", SECOND))
        coefficient = float(policy.get("backoff_coefficient", 2.0))
        maximum = int(policy.get("maximum_interval_ns", 100 * initial))
        max_attempts = int(policy.get("maximum_attempts", 0))
        non_retryable = set(policy.get("non_retryable_error_types", []))
        start_to_close = opts.get("start_to_close_timeout_ns")
        schedule_to_close = opts.get("schedule_to_close_timeout_ns")
        activity_id = str(opts.get("id") or task.seq)
        while True:
            wait_ns = task.ready_ns - clock.now_ns()
            if wait_ns > 0:
                await self._sleep(wait_ns)
            registered = self._registered(task)
            if registered is not None:
                value, failure = None, registered
            else:
                value, failure = await self._attempt(task, start_to_close)
            if failure is None:
                try:
                    encode(value, path="result", limit=engine.payload_limit)
                except EncodeError as exc:
                    failure = Failure(f"activity result cannot be encoded: {exc}", "Internal", False)
            if failure is None:
                engine.activity_done(task, value, None)
                return
            kind = failure.kind or "Internal"
            state = None
            if failure.retryable is False or kind in non_retryable:
                state = "RETRY_STATE_NON_RETRYABLE_FAILURE"
            elif max_attempts and task.attempt >= max_attempts:
                state = "RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED"
            delay = min(int(initial * coefficient ** (task.attempt - 1)), maximum)
            if state is None and schedule_to_close is not None:
                if clock.now_ns() + delay - task.scheduled_ns >= schedule_to_close:
                    state = "RETRY_STATE_TIMEOUT"
                    failure = Failure("activity schedule_to_close timeout", TIMEOUT, False,
                                      {"timeout_type": "schedule_to_close"})  # fmt: skip
            if state is not None:
                final = Failure(
                    failure.message,
                    kind,
                    failure.retryable,
                    {**(failure.details or {}), "_wrapper": "activity", "_activity_id": activity_id,
                     "_retry_state": state},
                    failure.stack,
                )  # fmt: skip
                engine.activity_done(task, None, final)
                return
            task.attempt += 1
            task.ready_ns = clock.now_ns() + delay
            engine.persist_attempt(task)

    def _registered(self, task: ActivityTask) -> Failure | None:
        catalog = self.engine.catalog
        worker = catalog.worker_for_queue(task.task_queue)
        if worker is None or task.activity_type not in worker.activities:
            return Failure(
                f"activity {task.activity_type} is not registered on task queue {task.task_queue} "
                "(add meta.temporal.activity.worker to the function entry)",
                "NotFound",
                True,
            )
        return None

    async def _attempt(self, task: ActivityTask, timeout_ns: int | None) -> tuple[JSONValue, Failure | None]:
        call = asyncio.ensure_future(self.engine.runtime.invoke(task.activity_type, task.args, task.context))
        if timeout_ns is None:
            return await call
        # The deadline runs on the engine clock (virtual in tests) but never counts as idle time.
        deadline = asyncio.ensure_future(self.engine.sleep_ns(timeout_ns, idle=False))
        try:
            await asyncio.wait({call, deadline}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            deadline.cancel()
        if call.done():
            return call.result()
        call.cancel()
        return None, Failure("activity start_to_close timeout", TIMEOUT, False, {"timeout_type": "start_to_close"})

    async def _sleep(self, ns: int) -> None:
        await self.engine.sleep_ns(ns)
