"""What ``describe`` and ``history`` print, the same for both engines.

Both engines are turned into plain rows first (:class:`EventRow`, the pending-work dict of
:func:`duralua.embedded.queries.pending_of`), then printed by one set of functions, so an
operator reads the same columns whichever engine runs the workflow. Every value from a run
goes into :class:`rich.text.Text` (never markup).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from rich.table import Table
from rich.text import Text

from ..codec import dumps, to_plain
from ..core import model as m
from ..core.history import History
from ..durations import humanize_ns
from ..engine import RunSummary
from ..logs import clock_text
from .common import out_console

STATUS_STYLE = {"running": "cyan", "completed": "green", "failed": "red", "held": "magenta",
                "terminated": "yellow", "canceled": "yellow", "continued": "blue", "timed_out": "red"}  # fmt: skip
CLIP = 160


def status_text(status: str) -> Text:
    return Text(status, style=STATUS_STYLE.get(status, ""))


def when(ns: int | None) -> str:
    """Local wall-clock time to the second (the log lines use the same clock)."""
    if ns is None:
        return "-"
    return clock_text(ns)[:19]


def relative(ns: int, now_ns: int | None = None) -> str:
    """``in 4m05s`` / ``3.2s ago`` for a moment relative to now."""
    delta = ns - (time.time_ns() if now_ns is None else now_ns)
    return f"in {humanize_ns(delta)}" if delta >= 0 else f"{humanize_ns(-delta)} ago"


def clip(text: str, limit: int = CLIP) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def compact(value: Any) -> str:
    return clip(dumps(to_plain(value)))


def failure_text(failure: Any) -> str:
    if failure is None:
        return ""
    if isinstance(failure, dict):
        kind, message = str(failure.get("kind") or ""), str(failure.get("message") or "")
    else:
        kind, message = str(getattr(failure, "kind", "") or ""), str(getattr(failure, "message", ""))
    return clip(f"{kind}: {message}" if kind else message)


# -- history ------------------------------------------------------------------------------------


@dataclass
class EventRow:
    id: int
    time_ns: int | None
    event: str
    details: str
    failed: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "time_ns": self.time_ns, "event": self.event, "details": self.details}


def _options_text(options: dict[str, Any]) -> str:
    parts = []
    for key, value in sorted(options.items()):
        if isinstance(value, int) and not isinstance(value, bool) and key.endswith("_ns"):
            parts.append(f"{key[:-3]} {humanize_ns(value)}")
    return ", ".join(parts)


def _job_row(job: m.Job) -> tuple[str, str, bool]:
    if isinstance(job, m.StartWorkflow):
        return "WorkflowStarted", f"input {compact(job.args)}", False
    if isinstance(job, m.ResolveActivity):
        if job.failure is not None:
            return "ActivityFailed", f"#{job.seq} {failure_text(job.failure)}", True
        return "ActivityCompleted", f"#{job.seq} result {compact(job.result)}", False
    if isinstance(job, m.FireTimer):
        return "TimerFired", f"#{job.seq}", False
    if isinstance(job, m.ResolveChildStart):
        if job.failure is not None:
            return "ChildStartFailed", f"#{job.seq} {failure_text(job.failure)}", True
        return "ChildStarted", f"#{job.seq} run {job.run_id}", False
    if isinstance(job, m.ResolveChild):
        if job.failure is not None:
            return "ChildFailed", f"#{job.seq} {failure_text(job.failure)}", True
        return "ChildCompleted", f"#{job.seq} result {compact(job.result)}", False
    if isinstance(job, m.ResolveSignalExternal):
        if job.failure is not None:
            return "ExternalSignalFailed", f"#{job.seq} {failure_text(job.failure)}", True
        return "ExternalSignaled", f"#{job.seq}", False
    if isinstance(job, m.ResolveCancelExternal):
        if job.failure is not None:
            return "ExternalCancelFailed", f"#{job.seq} {failure_text(job.failure)}", True
        return "ExternalCancelRequested", f"#{job.seq}", False
    if isinstance(job, m.Signal):
        sender = f" from {job.sender}" if job.sender else ""
        return "SignalReceived", f"{job.topic}{sender} {compact(job.payloads)}", False
    if isinstance(job, m.CancelRequested):
        return "CancelRequested", f"by {job.sender}", False
    return job.type, compact({k: v for k, v in job.to_json().items() if k != "type"}), False


def _command_row(cmd: m.Command) -> tuple[str, str, bool]:
    if isinstance(cmd, m.ScheduleActivity):
        opts = _options_text(cmd.options)
        return (
            "ActivityScheduled",
            f"#{cmd.seq} {cmd.activity_type} {compact(cmd.args)}" + (f" ({opts})" if opts else ""),
            False,
        )
    if isinstance(cmd, m.RequestCancelActivity):
        return "ActivityCancelRequested", f"#{cmd.target_seq}", False
    if isinstance(cmd, m.StartTimer):
        return "TimerStarted", f"#{cmd.seq} {humanize_ns(cmd.duration_ns)}", False
    if isinstance(cmd, m.StartChild):
        how = "exec" if cmd.wait else "spawn"
        return "ChildScheduled", f"#{cmd.seq} {cmd.workflow_type} {cmd.workflow_id} ({how}) {compact(cmd.args)}", False
    if isinstance(cmd, m.SignalExternal):
        return "SignalSent", f"#{cmd.seq} {cmd.topic} to {cmd.workflow_id} {compact(cmd.payloads)}", False
    if isinstance(cmd, m.CancelExternal):
        return "CancelSent", f"#{cmd.seq} to {cmd.workflow_id}", False
    if isinstance(cmd, m.SendLocal):
        return "MessageSent", f"{cmd.topic} to {cmd.target} {compact(cmd.payloads)}", False
    if isinstance(cmd, m.UpdateReply):
        return "UpdateReplied", f"{cmd.update_id} {cmd.topic} {compact(cmd.value)}", False
    if isinstance(cmd, m.RecordMarker):
        return "MarkerRecorded", f"{cmd.name} {compact(cmd.value)}", False
    if isinstance(cmd, m.UpsertAttributes):
        parts = [f"{k} {compact(v)}" for k, v in (("search", cmd.search), ("memo", cmd.memo)) if v is not None]
        return "AttributesUpserted", ", ".join(parts), False
    if isinstance(cmd, m.CompleteWorkflow):
        return "WorkflowCompleted", f"result {compact(cmd.result)}", False
    if isinstance(cmd, m.FailWorkflow):
        return "WorkflowFailed", failure_text(cmd.failure), True
    if isinstance(cmd, m.ContinueAsNew):
        return "ContinuedAsNew", f"{cmd.workflow_type} {compact(cmd.args)}", False
    return cmd.type, compact({k: v for k, v in cmd.to_json().items() if k != "type"}), False


def embedded_rows(history: History) -> list[EventRow]:
    """The history of an embedded run as rows, numbered as :meth:`History.events` numbers
    them (``WorkflowTask`` markers are counted, not shown: each row carries its task's time)."""
    rows: list[EventRow] = []
    n = 1
    for act in history.activations:
        n += 1
        for job in act.jobs:
            n += 1
            name, details, failed = _job_row(job)
            rows.append(EventRow(n, act.time_ns, name, details, failed))
        for cmd in act.commands:
            n += 1
            name, details, failed = _command_row(cmd)
            rows.append(EventRow(n, act.time_ns, name, details, failed))
    return rows


def print_history(title: str, rows: list[EventRow], start_ns: int | None) -> None:
    table = Table(title=Text(title), title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("time")
    table.add_column("elapsed", justify="right")
    table.add_column("event")
    table.add_column("details", overflow="fold")
    for row in rows:
        elapsed = ""
        if row.time_ns is not None and start_ns is not None:
            elapsed = humanize_ns(row.time_ns - start_ns) if row.time_ns != start_ns else "0s"
        table.add_row(str(row.id), when(row.time_ns) if row.time_ns else "-", elapsed,
                      Text(row.event, style="red" if row.failed else ""), Text(row.details))  # fmt: skip
    out_console.print(table)


# -- describe -----------------------------------------------------------------------------------


def describe_json(
    summary: RunSummary, *, history_length: int, args: Any, pending: dict[str, Any] | None
) -> dict[str, Any]:
    return {**summary.to_json(), "history_length": history_length, "input": args, "pending": pending}


def print_describe(data: dict[str, Any], summary: RunSummary, now_ns: int | None = None) -> None:
    table = Table(show_header=False, box=None)

    def add(key: str, value: str | Text, style: str = "bold") -> None:
        table.add_row(Text(key, style=style), value if isinstance(value, Text) else Text(value))

    s = summary
    for key in ("workflow_id", "run_id", "workflow_type"):
        add(key, str(data[key]))
    add("status", status_text(s.status))
    for key in ("pid", "task_queue"):
        add(key, str(data[key]))
    add("started", when(s.start_time_ns))
    add("closed", when(s.close_time_ns))
    add("history", f"{data['history_length']} events")
    add("input", compact(data.get("input")))
    if s.reason:
        add("held because" if s.status == "held" else "reason", s.reason, "bold magenta")
    if s.search:
        add("search", compact(s.search))
    if s.memo:
        add("memo", compact(s.memo))
    if s.failure:
        add("failure", failure_text(s.failure), "bold red")
    elif s.status in ("completed",):
        add("result", compact(s.result))
    out_console.print(table)
    pending = data.get("pending")
    if pending:
        _print_pending(pending, now_ns)


def _print_pending(pending: dict[str, Any], now_ns: int | None) -> None:
    sections: list[tuple[str, list[Text]]] = []
    acts = []
    for a in pending.get("activities") or []:
        line = Text(f"#{a['seq']} {a['activity_type']}: attempt {a['attempt']}")
        nxt = a.get("next_attempt_ns")
        if a.get("last_failure"):
            if nxt:
                line.append(f", next attempt {when(nxt)} ({relative(nxt, now_ns)})")
            line.append(", last failure: ")
            line.append(failure_text(a["last_failure"]), style="red")
        elif nxt and nxt > (time.time_ns() if now_ns is None else now_ns):
            line.append(f", starts {when(nxt)} ({relative(nxt, now_ns)})")
        else:
            line.append(", running")
        acts.append(line)
    sections.append(("pending activities", acts))
    timers = [Text(f"#{t['seq']} fires {when(t['fire_ns'])} ({relative(t['fire_ns'], now_ns)})")
              for t in pending.get("timers") or []]  # fmt: skip
    sections.append(("pending timers", timers))
    children = [Text(f"{c['workflow_id']} {c['workflow_type']} ") + status_text(str(c["status"]))
                for c in pending.get("children") or []]  # fmt: skip
    sections.append(("children", children))
    inbox = pending.get("inbox")
    if inbox is not None:
        msgs = [Text(f"{msg['topic']}" + (f" from {msg['sender']}" if msg.get("sender") else "") +
                     f" {compact(msg.get('payloads'))}") for msg in inbox]  # fmt: skip
        sections.append(("waiting messages", msgs))
    for title, lines in sections:
        out_console.print(Text(f"{title}: " + ("none" if not lines else str(len(lines))), style="bold"))
        for line in lines:
            out_console.print(Text("  ") + line, soft_wrap=True)
