"""Activities of the embedded engine: run in-process with retries and timeouts.

Semantics follow Temporal (spec activities.md §3-§5): an attempt is bounded by
``start_to_close``; a failed attempt is retried with exponential backoff unless the error is
non-retryable (``retryable == false`` or its kind is in ``non_retryable_error_types``) or
the attempts / ``schedule_to_close`` budget is used up. Only the final outcome reaches the
workflow, with ``_wrapper``/``_activity_id``/``_retry_state`` details.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..codec import JSONValue, encode
from ..core.options import backoff_ns
from ..errors import TIMEOUT, EncodeError, Failure
from .limits import Gate, WorkerLimits, worker_limits

if TYPE_CHECKING:
    from .engine import EmbeddedEngine

SECOND = 1_000_000_000


def _is_async(fn: Any) -> bool:
    return inspect.iscoroutinefunction(fn)


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
    adopted: Any = None  # an eager attempt still running (runtime call object)
    adopted_ns: int = 0  # when that eager attempt started (wall clock)
    last_failure: Failure | None = None  # why the previous attempt failed (shown by describe)


class ActivityRunner:
    def __init__(self, engine: EmbeddedEngine) -> None:
        self.engine = engine
        self._running: dict[tuple[str, int], asyncio.Task[None]] = {}
        self._limits: dict[str, WorkerLimits] = {}
        self._gates: dict[tuple[str, bool], Gate | None] = {}

    def limit_notes(self) -> list[str]:
        """What the workers' options limit here, and which of them do nothing (said at start)."""
        notes: list[str] = []
        for worker_id in self.engine.catalog.workers:
            entry = self.engine.catalog.registry.entries.get(worker_id)
            limits, said = worker_limits(worker_id, entry.data if entry is not None else {})
            self._limits[worker_id] = limits
            notes += said
        return notes

    def gate_for(self, task: ActivityTask) -> Gate | None:
        """The slots/rate gate of the worker that runs ``task``; None when it has no limit."""
        worker = self.engine.catalog.worker_for_queue(task.task_queue)
        if worker is None:
            return None
        local = task.activity_type in worker.local_activities
        key = (worker.id, local)
        if key not in self._gates:
            limits = self._limits.get(worker.id) or WorkerLimits()
            slots = limits.local_activities if local else limits.activities
            rate = limits.local_per_second if local else limits.per_second
            self._gates[key] = Gate(self.engine, slots, rate) if slots or rate else None
        return self._gates[key]

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

    def try_eager(self, task: ActivityTask) -> tuple[JSONValue, Failure | None] | None:
        """Run one attempt now, synchronously; the outcome if it is final, else None.

        None means "dispatch normally": the activity is not registered here, it did not finish
        synchronously (it was then handed to a background task that keeps its attempt), or it
        failed in a way the retry policy retries."""
        if self._registered(task) is not None or task.options.get("heartbeat_timeout_ns"):
            return None
        if self.gate_for(task) is not None:
            return None  # a limited worker's attempts wait for a slot or their start time
        runtime = self.engine.runtime
        fn = runtime.functions.get(task.activity_type)
        if fn is None or (fn.python is not None and _is_async(fn.python)):
            return None
        started_ns = time.time_ns()
        try:
            call = runtime.start_call(task.activity_type, task.args, task.context)
        except Exception:
            return None
        if not call.finished:
            task.adopted_ns = started_ns
            self._adopt(task, call)
            return None
        value, failure = call.result, call.failure
        if failure is None:
            try:
                encode(value, path="result", limit=self.engine.payload_limit)
            except EncodeError as exc:
                failure = Failure(f"activity result cannot be encoded: {exc}", "Invalid", False)
            except Exception as exc:
                failure = Failure(f"activity result cannot be encoded: {type(exc).__name__}: {exc}", "Invalid", False)
        self.engine.activity_attempt_ended(task, started_ns, failure)
        if failure is None:
            return value, None
        final = self._final_failure(task, failure)
        if final is not None:
            self.engine.activity_attempt_failed(task, final, True)
            return None, final
        task.last_failure = failure
        self._schedule_retry(task)
        self.engine.activity_attempt_failed(task, failure, False)
        return None

    def _adopt(self, task: ActivityTask, call: Any) -> None:
        """An eager attempt that blocked: let it finish in the background as attempt 1."""
        task.adopted = call

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
            except (asyncio.CancelledError, Exception):
                pass
        self._running.clear()

    def _policy(self, task: ActivityTask) -> tuple[int, float, int, int, set[str]]:
        policy = task.options.get("retry_policy") or {}
        initial = int(policy.get("initial_interval_ns", SECOND))
        return (
            initial,
            float(policy.get("backoff_coefficient", 2.0)),
            int(policy.get("maximum_interval_ns", 100 * initial)),
            int(policy.get("maximum_attempts", 0)),
            set(policy.get("non_retryable_error_types", [])),
        )

    def _final_failure(self, task: ActivityTask, failure: Failure) -> Failure | None:
        """The failure the workflow sees if this attempt's failure ends the activity, else None."""
        initial, coefficient, maximum, max_attempts, non_retryable = self._policy(task)
        kind = failure.kind or "Internal"
        state = None
        if failure.retryable is False or kind in non_retryable:
            state = "RETRY_STATE_NON_RETRYABLE_FAILURE"
        elif max_attempts and task.attempt >= max_attempts:
            state = "RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED"
        schedule_to_close = task.options.get("schedule_to_close_timeout_ns")
        if state is None and schedule_to_close is not None:
            delay = backoff_ns(initial, coefficient, maximum, task.attempt)
            if self.engine.clock.now_ns() + delay - task.scheduled_ns >= schedule_to_close:
                state = "RETRY_STATE_TIMEOUT"
                failure = Failure("activity schedule_to_close timeout", TIMEOUT, False,
                                  {"timeout_type": "schedule_to_close"})  # fmt: skip
                kind = TIMEOUT
        if state is None:
            return None
        activity_id = str(task.options.get("id") or task.seq)
        details = {**(failure.details or {}), "_wrapper": "activity", "_activity_id": activity_id,
                   "_retry_state": state}  # fmt: skip
        return Failure(failure.message, kind, failure.retryable, details, failure.stack)

    def _schedule_retry(self, task: ActivityTask) -> None:
        initial, coefficient, maximum, _max, _nr = self._policy(task)
        delay = backoff_ns(initial, coefficient, maximum, task.attempt)
        task.attempt += 1
        task.ready_ns = self.engine.clock.now_ns() + delay

    async def _run(self, task: ActivityTask) -> None:
        """One activity until its final outcome. Nothing escapes: an unexpected error ends the
        attempt like a failure of the activity, so the retry policy applies and the workflow
        is never left waiting for an attempt that died silently."""
        while True:
            try:
                await self._run_attempts(task)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.engine.activity_crashed(task, exc)
                failure = Failure(f"activity attempt crashed: {type(exc).__name__}: {exc}", "Internal", True)
                try:
                    final = self._final_failure(task, failure)
                    if final is not None:
                        self.engine.activity_done(task, None, final)
                        return
                    task.last_failure = failure
                    self._schedule_retry(task)
                    self.engine.activity_attempt_failed(task, failure, False)
                    self.engine.persist_attempt(task)
                except Exception as again:  # the task's own options are unusable: give up on it
                    bad = Failure(f"activity cannot be retried: {again}", "Internal", False)
                    self.engine.activity_done(task, None, bad)
                    return

    async def _run_attempts(self, task: ActivityTask) -> None:
        engine = self.engine
        clock = engine.clock
        start_to_close = task.options.get("start_to_close_timeout_ns")
        while True:
            adopted, task.adopted = task.adopted, None
            if adopted is None:
                wait_ns = task.ready_ns - clock.now_ns()
                if wait_ns > 0:
                    await self._sleep(wait_ns)
            registered = self._registered(task)
            failure: Failure | None
            if registered is not None:
                value, failure = None, registered
            else:
                gate = self.gate_for(task)
                if gate is not None:
                    await gate.acquire()
                started_ns = task.adopted_ns if adopted is not None and task.adopted_ns else time.time_ns()
                try:
                    value, failure = await self._attempt(task, start_to_close, adopted)
                finally:
                    if gate is not None:
                        gate.release()
                if failure is None:
                    try:
                        encode(value, path="result", limit=engine.payload_limit)
                    except EncodeError as exc:
                        failure = Failure(f"activity result cannot be encoded: {exc}", "Invalid", False)
                engine.activity_attempt_ended(task, started_ns, failure)
            if failure is None:
                engine.activity_done(task, value, None)
                return
            final = self._final_failure(task, failure)
            if final is not None:
                engine.activity_attempt_failed(task, final, True)
                engine.activity_done(task, None, final)
                return
            task.last_failure = failure
            self._schedule_retry(task)
            engine.activity_attempt_failed(task, failure, False)
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

    async def _attempt(
        self, task: ActivityTask, timeout_ns: int | None, adopted: Any = None
    ) -> tuple[JSONValue, Failure | None]:
        runtime = self.engine.runtime
        call = asyncio.ensure_future(
            runtime.finish_call(adopted) if adopted is not None
            else runtime.invoke(task.activity_type, task.args, task.context)
        )  # fmt: skip
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
