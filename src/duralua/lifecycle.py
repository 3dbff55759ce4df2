"""The one stream of lifecycle events: runs, activities, the engine itself, services, requests.

Engines and the runtime *emit* here and nowhere else; log lines, the UI's live refresh and
metrics *subscribe*. Events are emitted after the change they describe is durable (for the
embedded engine: after the commit), so a subscriber never reports something that a crash
could take back.

A subscriber that raises is logged and skipped: observing the engine must never stop it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_log = logging.getLogger("duralua.lifecycle")

# Kinds, by subject. Keep the list closed: consumers switch on these strings.
RUN_STARTED = "run.started"
RUN_COMPLETED = "run.completed"
RUN_FAILED = "run.failed"
RUN_HELD = "run.held"
RUN_CONTINUED = "run.continued"
RUN_TERMINATED = "run.terminated"
RUN_CANCELED = "run.canceled"
RUN_HISTORY_LARGE = "run.history_large"  # the history crossed the warning threshold (issue 13)
ACTIVITY_RETRY = "activity.retry"  # an attempt failed and will be retried
ACTIVITY_FAILED = "activity.failed"  # the activity failed for good
ENGINE_NOTICE = "engine.notice"
ENGINE_ERROR = "engine.error"
ENGINE_FATAL = "engine.fatal"
# For metrics, traces and the UI's live refresh; too frequent for log lines (see QUIET).
RUN_SIGNALED = "run.signaled"  # a message was committed to the run's mailbox
ACTIVITY_ATTEMPT = "activity.attempt"  # one attempt ended, whatever its outcome (timing in data)
ENGINE_COMMIT = "engine.commit"  # one group commit (latency, runs, cache counters in data)
# Supervised services (runtime/supervisor.py): one event per state change, ``subject`` the service id.
SERVICE_STARTING = "service.starting"
SERVICE_RUNNING = "service.running"
SERVICE_FAILED = "service.failed"
SERVICE_EXITED = "service.exited"
SERVICE_STOPPING = "service.stopping"
SERVICE_STOPPED = "service.stopped"

KINDS = (
    RUN_STARTED, RUN_COMPLETED, RUN_FAILED, RUN_HELD, RUN_CONTINUED, RUN_TERMINATED, RUN_CANCELED, RUN_HISTORY_LARGE,
    ACTIVITY_RETRY, ACTIVITY_FAILED, ENGINE_NOTICE, ENGINE_ERROR, ENGINE_FATAL,
    RUN_SIGNALED, ACTIVITY_ATTEMPT, ENGINE_COMMIT, SERVICE_STARTING, SERVICE_RUNNING, SERVICE_FAILED,
    SERVICE_EXITED, SERVICE_STOPPING, SERVICE_STOPPED,
)  # fmt: skip
QUIET = frozenset({RUN_SIGNALED, ACTIVITY_ATTEMPT, ENGINE_COMMIT})


@dataclass(frozen=True, slots=True)
class LifecycleEvent:
    kind: str
    subject: str = ""  # workflow id, activity type, service id...
    run_id: str = ""
    entry: str = ""  # workflow type or function entry id
    message: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    time_ns: int = field(default_factory=time.time_ns)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "subject": self.subject, "run_id": self.run_id, "entry": self.entry,
            "message": self.message, "data": self.data, "time_ns": self.time_ns,
        }  # fmt: skip


Subscriber = Callable[[LifecycleEvent], None]
#: Adds values to the context of a run being started (telemetry: the caller's trace context).
Propagator = Callable[[dict[str, Any]], None]


class LifecycleBus:
    """Synchronous fan-out of lifecycle events to subscribers."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._propagators: list[Propagator] = []

    @property
    def listening(self) -> bool:
        """Whether any subscriber reads the events (emitters may skip making them if not)."""
        return bool(self._subscribers)

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Add ``fn``; returns a function that removes it again."""
        self._subscribers.append(fn)

        def unsubscribe() -> None:
            if fn in self._subscribers:
                self._subscribers.remove(fn)

        return unsubscribe

    def add_propagator(self, fn: Propagator) -> Callable[[], None]:
        """Add ``fn``, called with the context of every run started in the caller's task."""
        self._propagators.append(fn)

        def remove() -> None:
            if fn in self._propagators:
                self._propagators.remove(fn)

        return remove

    def inject(self, context: dict[str, Any]) -> dict[str, Any]:
        """Let the propagators add to ``context`` (in place); one that raises is skipped."""
        for fn in list(self._propagators):
            try:
                fn(context)
            except Exception:
                _log.exception("lifecycle propagator %r failed", fn)
        return context

    def emit(self, event: LifecycleEvent) -> None:
        for fn in list(self._subscribers):
            try:
                fn(event)
            except Exception:
                _log.exception("lifecycle subscriber %r failed on %s", fn, event.kind)


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe(event: LifecycleEvent) -> str:
    """One human line for a log."""
    k, d = event.kind, event.data
    who = f"{event.entry} {event.subject}".strip()
    if k == RUN_STARTED:
        return f"started {who} (run {event.run_id})"
    if k == RUN_COMPLETED:
        return f"completed {who} in {d.get('duration', '?')}"
    if k == RUN_FAILED:
        return f"failed {who}: {d.get('kind') or 'error'}: {_short(event.message)}"
    if k == RUN_HELD:
        return f"held {who}: {_short(event.message)}"
    if k == RUN_CONTINUED:
        return f"continued as new {who}"
    if k in (RUN_TERMINATED, RUN_CANCELED):
        return f"{k.split('.')[1]} {who}" + (f": {_short(event.message)}" if event.message else "")
    if k == ACTIVITY_RETRY:
        return (f"activity {event.entry} of {event.subject} failed (attempt {d.get('attempt')}): "
                f"{_short(event.message)}; retry in {d.get('retry_in', '?')}")  # fmt: skip
    if k == ACTIVITY_FAILED:
        # On Temporal the workflow hears of the final failure without the attempt that made it.
        attempt = f" (attempt {d['attempt']})" if "attempt" in d else ""
        return f"activity {event.entry} of {event.subject} failed for good{attempt}: " + _short(event.message)
    if k.startswith("service."):
        text = f"service {event.subject} {k.split('.')[1]}"
        return text + (f": {_short(event.message)}" if event.message else "")
    return _short(event.message, 1000)


def log_subscriber(log: Callable[[str, str], None]) -> Subscriber:
    """A subscriber that writes one line per event through an app log function."""

    def write(event: LifecycleEvent) -> None:
        if event.kind not in QUIET:
            log("engine", describe(event))

    return write
