"""A run's history as a timeline: one row per job and command of every activation, plus a table
of its activities (scheduled, resolved, duration, attempts, last failure).

Decoded from the recorded activations (``time_ns``, ``jobs``, ``commands``). Job and command
kinds this version does not know are shown by their type name rather than dropped, so a
history written by a newer engine still renders.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from ..codec import to_plain
from ..core import model as m
from ..core.history import History
from ..durations import humanize_ns
from ..errors import Failure

PREVIEW = 400  # characters of a value shown inline; the full value is behind a <details>
_NONDET = re.compile(r"history has (?P<recorded>.+?), the code now produces (?P<produced>.+?)\. ")


def show(value: Any, limit: int | None = None) -> str:
    try:
        text = json.dumps(to_plain(value), ensure_ascii=False, sort_keys=True, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    if limit is not None and len(text) > limit:
        return text[: limit - 1] + "…"
    return text


@dataclass
class Event:
    time_ns: int
    activation: int
    kind: str  # css class: start, activity, timer, signal, child, marker, complete, fail, other
    title: str
    detail: str = ""
    run_link: str = ""  # a run id to link to (children)
    workflow_link: str = ""  # a workflow id to link to (external signals)


@dataclass
class ActivityRow:
    seq: int
    activity_type: str
    scheduled_ns: int
    resolved_ns: int | None = None
    outcome: str = "pending"  # pending | completed | failed | canceled
    failure: Failure | None = None
    attempt: int | None = None  # the current attempt, while pending (from the task row)
    next_attempt_ns: int | None = None
    last_failure: dict[str, Any] | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def duration_ns(self, now_ns: int) -> int:
        return max((self.resolved_ns if self.resolved_ns is not None else now_ns) - self.scheduled_ns, 0)


@dataclass
class Timeline:
    events: list[Event]
    activities: list[ActivityRow]
    versions: list[tuple[str, Any]] = field(default_factory=list)


def nondeterminism_diff(reason: str) -> tuple[str, str] | None:
    """(recorded, produced) out of a held reason that reports non-determinism."""
    match = _NONDET.search(reason + " ")
    return (match["recorded"], match["produced"]) if match else None


def _failure_text(failure: Failure | None) -> str:
    if failure is None:
        return ""
    return f"{failure.kind or 'error'}: {failure.message}"


def build_timeline(history: History, pending: dict[str, Any]) -> Timeline:
    events: list[Event] = []
    activities: dict[int, ActivityRow] = {}
    timers: dict[int, tuple[int, int]] = {}  # seq -> (started, duration)
    children: dict[int, str] = {}  # seq -> "type id"
    versions: list[tuple[str, Any]] = []
    for n, act in enumerate(history.activations, 1):
        t = act.time_ns
        for job in act.jobs:
            events.append(_job_event(job, t, n, activities, timers, children))
        for cmd in act.commands:
            events.append(_command_event(cmd, t, n, activities, timers, children, versions))
    for task in pending.get("activities", []):
        row = activities.get(int(task["seq"]))
        if row is None:
            row = activities[int(task["seq"])] = ActivityRow(int(task["seq"]), str(task["activity_type"]),
                                                             int(task["scheduled_ns"]))  # fmt: skip
        row.attempt = int(task["attempt"])
        row.next_attempt_ns = int(task["next_attempt_ns"])
        row.last_failure = task.get("last_failure") if isinstance(task.get("last_failure"), dict) else None
    return Timeline(events, [activities[k] for k in sorted(activities)], versions)


def _job_event(job: m.Job, t: int, n: int, activities: dict[int, ActivityRow], timers: dict[int, tuple[int, int]],
               children: dict[int, str]) -> Event:  # fmt: skip
    if isinstance(job, m.StartWorkflow):
        return Event(t, n, "start", "Workflow started", "input " + show(job.args, PREVIEW))
    if isinstance(job, m.ResolveActivity):
        row = activities.get(job.seq)
        name = row.activity_type if row else f"#{job.seq}"
        took = f" after {humanize_ns(t - row.scheduled_ns)}" if row else ""
        if row is not None:
            row.resolved_ns = t
            row.outcome = "failed" if job.failure is not None else "completed"
            row.failure = job.failure
        if job.failure is not None:
            return Event(t, n, "fail", f"Activity {name} failed{took}", _failure_text(job.failure))
        return Event(t, n, "activity", f"Activity {name} completed{took}", "result " + show(job.result, PREVIEW))
    if isinstance(job, m.FireTimer):
        started = timers.get(job.seq)
        what = f"Timer #{job.seq} fired" + (f" ({humanize_ns(started[1])})" if started else "")
        return Event(t, n, "timer", what)
    if isinstance(job, m.Signal):
        sender = f" from {job.sender}" if job.sender else ""
        return Event(t, n, "signal", f"Signal {job.topic} received{sender}", show(job.payloads, PREVIEW))
    if isinstance(job, m.ResolveChildStart):
        who = children.get(job.seq, f"#{job.seq}")
        if job.failure is not None:
            return Event(t, n, "fail", f"Child {who} could not start", _failure_text(job.failure))
        return Event(t, n, "child", f"Child {who} started", f"run {job.run_id}", run_link=job.run_id)
    if isinstance(job, m.ResolveChild):
        who = children.get(job.seq, f"#{job.seq}")
        if job.failure is not None:
            return Event(t, n, "fail", f"Child {who} failed", _failure_text(job.failure))
        return Event(t, n, "child", f"Child {who} completed", "result " + show(job.result, PREVIEW))
    if isinstance(job, m.CancelRequested):
        return Event(t, n, "fail", "Cancel requested", f"by {job.sender}" if job.sender else "")
    if isinstance(job, (m.ResolveSignalExternal, m.ResolveCancelExternal)):
        verb = "Signal" if isinstance(job, m.ResolveSignalExternal) else "Cancel"
        if job.failure is not None:
            return Event(t, n, "fail", f"{verb} #{job.seq} to another workflow failed", _failure_text(job.failure))
        return Event(t, n, "signal", f"{verb} #{job.seq} to another workflow delivered")
    return Event(t, n, "other", str(getattr(job, "type", type(job).__name__)), show(job.to_json(), PREVIEW))


def _command_event(cmd: m.Command, t: int, n: int, activities: dict[int, ActivityRow],
                   timers: dict[int, tuple[int, int]], children: dict[int, str],
                   versions: list[tuple[str, Any]]) -> Event:  # fmt: skip
    if isinstance(cmd, m.ScheduleActivity):
        activities[cmd.seq] = ActivityRow(cmd.seq, cmd.activity_type, t, options=dict(cmd.options))
        return Event(t, n, "activity", f"Activity {cmd.activity_type} scheduled (#{cmd.seq})",
                     "args " + show(cmd.args, PREVIEW))  # fmt: skip
    if isinstance(cmd, m.RequestCancelActivity):
        row = activities.get(cmd.target_seq)
        if row is not None and row.resolved_ns is None:
            row.outcome = "canceled"
        return Event(t, n, "fail", f"Activity #{cmd.target_seq} cancel requested")
    if isinstance(cmd, m.StartTimer):
        timers[cmd.seq] = (t, cmd.duration_ns)
        return Event(t, n, "timer", f"Timer #{cmd.seq} started for {humanize_ns(cmd.duration_ns)}")
    if isinstance(cmd, m.StartChild):
        children[cmd.seq] = f"{cmd.workflow_type} {cmd.workflow_id}".strip()
        return Event(t, n, "child", f"Child {cmd.workflow_type} starting ({cmd.workflow_id})",
                     "args " + show(cmd.args, PREVIEW))  # fmt: skip
    if isinstance(cmd, m.SignalExternal):
        return Event(t, n, "signal", f"Signal {cmd.topic} sent to {cmd.workflow_id}", show(cmd.payloads, PREVIEW),
                     workflow_link=cmd.workflow_id)  # fmt: skip
    if isinstance(cmd, m.CancelExternal):
        return Event(t, n, "fail", f"Cancel sent to {cmd.workflow_id}", workflow_link=cmd.workflow_id)
    if isinstance(cmd, m.SendLocal):
        return Event(t, n, "signal", f"Message {cmd.topic} sent to {cmd.target}", show(cmd.payloads, PREVIEW))
    if isinstance(cmd, m.RecordMarker):
        if cmd.name == "version" and isinstance(cmd.value, dict):
            versions.append((str(cmd.value.get("id", "")), cmd.value.get("version")))
            return Event(t, n, "marker", f"Version {cmd.value.get('id')} = {cmd.value.get('version')}")
        return Event(t, n, "marker", f"Marker {cmd.name}", show(cmd.value, PREVIEW))
    if isinstance(cmd, m.UpsertAttributes):
        parts = []
        if cmd.search is not None:
            parts.append("search " + show(cmd.search, PREVIEW))
        if cmd.memo is not None:
            parts.append("memo " + show(cmd.memo, PREVIEW))
        return Event(t, n, "marker", "Attributes updated", "; ".join(parts))
    if isinstance(cmd, m.CompleteWorkflow):
        return Event(t, n, "complete", "Workflow completed", "result " + show(cmd.result, PREVIEW))
    if isinstance(cmd, m.FailWorkflow):
        return Event(t, n, "fail", "Workflow failed", _failure_text(cmd.failure))
    if isinstance(cmd, m.ContinueAsNew):
        return Event(t, n, "complete", "Continued as new", "args " + show(cmd.args, PREVIEW))
    return Event(t, n, "other", str(getattr(cmd, "type", type(cmd).__name__)), show(cmd.to_json(), PREVIEW))
