"""Lifecycle events of runs and activities on Temporal, onto the app's one lifecycle stream.

The embedded engine emits after each commit; on Temporal the worker emits what it executes:
a run's start and close and the messages it receives (from the dynamic workflow, only when
the SDK is not replaying, so a rebuilt run reports nothing twice), each activity attempt and
its retry (from the dynamic activity), an activity that failed for good (from the workflow,
which also hears of the timeouts the server decides). Log lines and metrics subscribe as on
the embedded engine.

What the server alone decides (terminate, run timeouts) no worker sees, so it is not
reported here. A workflow task that completes a run but whose completion the server then
rejects (a signal raced it) runs again and reports the close again: rare, and a counter that
moves once too often is better than a worker that waits for the server before reporting.

Events carry ``data["engine"] = "temporal"``: the span maker skips them, temporalio's own
tracing interceptor makes those spans on Temporal.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import TYPE_CHECKING, Any, Protocol

from temporalio.common import RetryPolicy

from .. import lifecycle as lc
from ..core import model as m
from ..core.options import backoff_ns
from ..durations import humanize_ns
from ..errors import Failure
from ..lifecycle import LifecycleBus, LifecycleEvent

if TYPE_CHECKING:
    from temporalio import activity

ENGINE = "temporal"


class Emit(Protocol):
    """Where the worker's events go; ``listening`` says whether anyone reads them (an event
    nobody reads is not even made: most attempts of a busy worker have no subscriber)."""

    @property
    def listening(self) -> bool: ...

    def __call__(self, event: LifecycleEvent) -> None: ...


class LoopEmitter:
    """Emit on ``loop``: workflow code may run on the SDK's threads, and subscribers (log
    lines, metrics) expect to be called where the app runs. From the loop's own thread (the
    activities, inline activations) without waking the loop through its self-pipe. Made on the
    loop's thread."""

    __slots__ = ("_bus", "_loop", "_thread")

    def __init__(self, bus: LifecycleBus, loop: asyncio.AbstractEventLoop) -> None:
        self._bus = bus
        self._loop = loop
        self._thread = threading.get_ident()

    @property
    def listening(self) -> bool:
        return self._bus.listening

    def __call__(self, event: LifecycleEvent) -> None:
        if not self._bus.listening:
            return
        # A loop that is closing means the worker is stopping: the event has nowhere to go.
        with contextlib.suppress(RuntimeError):
            if threading.get_ident() == self._thread:
                self._loop.call_soon(self._bus.emit, event)
            else:
                self._loop.call_soon_threadsafe(self._bus.emit, event)


def _data(**values: Any) -> dict[str, Any]:
    return {"engine": ENGINE, **values}


def run_started(info: m.WorkflowInfo, parent_run: str) -> LifecycleEvent:
    return LifecycleEvent(lc.RUN_STARTED, subject=info.workflow_id, run_id=info.run_id, entry=info.workflow_type,
                          data=_data(attempt=info.attempt, parent_run=parent_run, context=info.context))  # fmt: skip


_CLOSED = {"completed": lc.RUN_COMPLETED, "failed": lc.RUN_FAILED, "canceled": lc.RUN_CANCELED,
           "continued": lc.RUN_CONTINUED}  # fmt: skip


def run_closed(info: m.WorkflowInfo, status: str, failure: Failure | None, duration_ns: int) -> LifecycleEvent:
    duration_ns = max(duration_ns, 0)
    data = _data(status=status, duration=humanize_ns(duration_ns), duration_ns=duration_ns)
    if failure is not None:
        data["kind"] = failure.kind
    return LifecycleEvent(_CLOSED[status], subject=info.workflow_id, run_id=info.run_id, entry=info.workflow_type,
                          message=failure.message if failure is not None else "", data=data)  # fmt: skip


def run_signaled(info: m.WorkflowInfo, topic: str, sender: str) -> LifecycleEvent:
    return LifecycleEvent(lc.RUN_SIGNALED, subject=info.workflow_id, run_id=info.run_id, entry=info.workflow_type,
                          data=_data(topic=topic, sender=sender))  # fmt: skip


def activity_failed(info: m.WorkflowInfo, activity_type: str, failure: Failure) -> LifecycleEvent:
    """The workflow got the activity's final failure (the attempt that made it is unknown here)."""
    return LifecycleEvent(lc.ACTIVITY_FAILED, subject=info.workflow_id, run_id=info.run_id, entry=activity_type,
                          message=failure.message, data=_data(kind=failure.kind))  # fmt: skip


def attempt_ended(info: activity.Info, started_ns: int, ended_ns: int, failure: Failure | None,
                  context: dict[str, Any]) -> list[LifecycleEvent]:  # fmt: skip
    """One attempt of the dynamic activity ran: its ``activity.attempt`` event, and a
    ``activity.retry`` one when the retry policy will run it again."""
    data = _data(attempt=info.attempt, started_ns=started_ns, ok=failure is None,
                 duration_ns=max(ended_ns - started_ns, 0), context=context)  # fmt: skip
    if info.activity_id.isdigit():
        data["seq"] = int(info.activity_id)  # duralua's activity ids are the command's seq
    if failure is not None:
        data["kind"] = failure.kind
    subject, run_id, entry = info.workflow_id or "", info.workflow_run_id or "", info.activity_type
    events = [LifecycleEvent(lc.ACTIVITY_ATTEMPT, subject=subject, run_id=run_id, entry=entry,
                             message=failure.message if failure else "", data=data)]  # fmt: skip
    delay = retry_delay_ns(info, failure) if failure is not None else None
    if failure is not None and delay is not None:
        retry = _data(attempt=info.attempt, kind=failure.kind, retry_in=humanize_ns(delay),
                      next_retry_ns=ended_ns + delay)  # fmt: skip
        events.append(LifecycleEvent(lc.ACTIVITY_RETRY, subject=subject, run_id=run_id, entry=entry,
                                     message=failure.message, data=retry))  # fmt: skip
    return events


def retry_delay_ns(info: activity.Info, failure: Failure) -> int | None:
    """The wait before the next attempt per the activity's retry policy, or None when the
    server will not retry (non-retryable, a non-retryable kind, attempts used up)."""
    if failure.retryable is False:
        return None
    policy = info.retry_policy or RetryPolicy()  # none given: Temporal's default one
    if failure.kind in (policy.non_retryable_error_types or ()):
        return None
    if policy.maximum_attempts and info.attempt >= policy.maximum_attempts:
        return None
    initial = int(policy.initial_interval.total_seconds() * 1e9)
    cap = int(policy.maximum_interval.total_seconds() * 1e9) if policy.maximum_interval else initial * 100
    return backoff_ns(initial, policy.backoff_coefficient, cap, info.attempt)
