"""``duralua workflow ... --engine temporal``: the same commands against a Temporal server.

Every command prints what it prints on the embedded engine (through :mod:`.render` and the
shared helpers of :mod:`.workflow_cmd`) and exits with the same status: 0 done, 1 refused or
failed, 2 not finished. The server is the one of the app's ``temporal.client`` entry;
``--address``/``--namespace`` (or ``TEMPORAL_ADDRESS``/``TEMPORAL_NAMESPACE``) override it.

Only this module (and what it imports lazily) touches temporalio: without the
``duralua[temporal]`` extra, ``--engine temporal`` is a one-line error naming the extra.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from ..codec import JSONValue
from ..durations import humanize_ns
from ..engine import RunSummary, StartRequest
from ..errors import CallError, DuraluaError, Failure, WorkflowNotFound
from . import render
from .common import Ctx, fail, print_json

if TYPE_CHECKING:
    from ..registry.model import Registry
    from ..temporal.engine import TemporalEngine

T = TypeVar("T")

EXTRA_HINT = "install the extra: pip install 'duralua[temporal]'"
OPEN = ("running", "held")


def require_temporal(what: str = "--engine temporal") -> None:
    try:
        found = importlib.util.find_spec("temporalio") is not None
    except (ImportError, ValueError):  # a broken or blocked install counts as missing
        found = False
    if not found:
        fail(f"{what} needs the Temporal SDK, which is not installed", hint=EXTRA_HINT)


@dataclass
class Server:
    """Where to reach Temporal: overrides of the app's client entries (None: as written)."""

    address: str | None = None
    namespace: str | None = None

    def apply(self, ctx: Ctx) -> None:
        self.apply_to(ctx.registry())

    def apply_to(self, registry: Registry) -> None:
        for entry in registry.entries.values():
            if entry.kind != "temporal.client":
                continue
            if self.address:
                entry.data["address"] = self.address
            if self.namespace:
                entry.data["namespace"] = self.namespace


def run(ctx: Ctx, server: Server, body: Callable[[TemporalEngine], Awaitable[T]]) -> T:
    """Connect the app's clients, run ``body`` with the engine, turn errors into one line."""
    require_temporal()
    app = ctx.app()
    if not any(e.kind == "temporal.client" for e in app.registry.entries.values()):
        fail(f"{ctx.root} has no temporal.client entry", hint="add one (address, namespace) to use --engine temporal")
    server.apply(ctx)

    async def main() -> T:
        from ..temporal.worker import connect_engine

        engine = await connect_engine(app)
        return await body(engine)

    try:
        return asyncio.run(main())
    except CallError as exc:
        fail(exc.failure.message, kind=exc.failure.kind)
    except WorkflowNotFound as exc:
        fail(exc.message, hint="`duralua workflow list --engine temporal` shows the known runs")
    except DuraluaError as exc:
        fail(exc.message, hint=exc.hint)


# Attributes the server adds to every run; the embedded engine has no counterpart.
_SYSTEM_ATTRIBUTES = frozenset({"BuildIds"})


async def _summary(engine: TemporalEngine, ident: str) -> RunSummary:
    try:
        s = await engine.describe(ident)
    except WorkflowNotFound:
        raise WorkflowNotFound(f"no workflow with id {ident}") from None
    return _tidy(s)


def _tidy(s: RunSummary) -> RunSummary:
    s.search = {k: v for k, v in s.search.items() if k not in _SYSTEM_ATTRIBUTES}
    return s


# -- reading ------------------------------------------------------------------------------------


def list_runs(ctx: Ctx, server: Server, status: str | None, workflow_type: str | None,
              query: dict[str, Any] | None, limit: int | None) -> list[RunSummary]:  # fmt: skip
    """The runs, oldest first; the newest ``limit`` carry their outcome (result or failure),
    as the embedded engine's do (Temporal's listing has none: one more call per run)."""

    async def body(engine: TemporalEngine) -> list[RunSummary]:
        found = await engine.list_runs(status=status, workflow_type=workflow_type, query=query)
        runs = sorted((_tidy(r) for r in found), key=lambda r: (r.start_time_ns, r.run_id))
        shown = runs[::-1][:limit]
        for i, r in enumerate(shown):
            if r.status not in OPEN and r.status != "continued":
                client = engine.client_for(r.pid)
                desc = await client.get_workflow_handle(r.workflow_id, run_id=r.run_id).describe()
                # The engine's own summary with the outcome, so both engines word it alike.
                shown[i] = _tidy(await engine._summary(client, desc, with_outcome=True))
        by_run = {r.run_id: r for r in shown}
        return [by_run.get(r.run_id, r) for r in runs]

    return run(ctx, server, body)


def _decode(payloads: Any) -> list[Any]:
    out = []
    for p in payloads:
        try:
            out.append(json.loads(p.data))
        except ValueError:
            out.append(p.data.decode("utf-8", "replace"))
    return out


def _ns(ts: Any) -> int:
    return int(ts.ToNanoseconds())


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.removeprefix("EVENT_TYPE_").split("_"))


# Workflow task events are the engine's bookkeeping (the embedded view hides its WorkflowTask
# markers too); a failed workflow task is shown: it is why a run is held.
_HIDDEN = frozenset({"WorkflowTaskScheduled", "WorkflowTaskStarted", "WorkflowTaskCompleted"})


def _details(event: Any, attrs: Any, name: str) -> tuple[str, bool]:
    c = render.compact
    if name == "WorkflowExecutionStarted":
        return f"input {c(_decode(attrs.input.payloads))} on {attrs.task_queue.name}", False
    if name == "ActivityTaskScheduled":
        timeout = humanize_ns(_ns(attrs.start_to_close_timeout)) if attrs.HasField("start_to_close_timeout") else ""
        extra = f" (start_to_close_timeout {timeout})" if timeout else ""
        return f"#{attrs.activity_id} {attrs.activity_type.name} {c(_decode(attrs.input.payloads))}{extra}", False
    if name == "ActivityTaskStarted":
        return f"attempt {attrs.attempt}", False
    if name == "ActivityTaskCompleted":
        values = _decode(attrs.result.payloads)
        return f"result {c(values[0] if len(values) == 1 else values)}", False
    if name in ("ActivityTaskFailed", "WorkflowExecutionFailed", "WorkflowTaskFailed", "ChildWorkflowExecutionFailed"):
        return render.clip(attrs.failure.message), True
    if name == "TimerStarted":
        return f"#{attrs.timer_id} {humanize_ns(_ns(attrs.start_to_fire_timeout))}", False
    if name in ("TimerFired", "TimerCanceled"):
        return f"#{attrs.timer_id}", False
    if name == "WorkflowExecutionSignaled":
        return f"{attrs.signal_name} {c(_decode(attrs.input.payloads))}", False
    if name == "WorkflowExecutionCompleted":
        values = _decode(attrs.result.payloads)
        return f"result {c(values[0] if values else None)}", False
    if name == "StartChildWorkflowExecutionInitiated":
        return f"{attrs.workflow_type.name} {attrs.workflow_id} {c(_decode(attrs.input.payloads))}", False
    if name.startswith("ChildWorkflowExecution"):
        return f"{attrs.workflow_execution.workflow_id}", False
    if name == "WorkflowExecutionTerminated":
        return render.clip(attrs.reason), True
    from google.protobuf.json_format import MessageToDict

    return c(MessageToDict(attrs)), False


def event_rows(events: list[Any]) -> list[render.EventRow]:
    from temporalio.api.enums.v1 import EventType

    rows = []
    for event in events:
        name = _camel(EventType.Name(event.event_type))
        if name in _HIDDEN:
            continue
        which = event.WhichOneof("attributes")
        details, failed = _details(event, getattr(event, which), name) if which else ("", False)
        rows.append(render.EventRow(int(event.event_id), _ns(event.event_time), name, details, failed))
    return rows


def _pending_timers(events: list[Any]) -> list[dict[str, Any]]:
    started: dict[int, dict[str, Any]] = {}
    for e in events:
        if e.HasField("timer_started_event_attributes"):
            a = e.timer_started_event_attributes
            started[int(e.event_id)] = {"seq": a.timer_id, "fire_ns": _ns(e.event_time) + _ns(a.start_to_fire_timeout)}
        for field in ("timer_fired_event_attributes", "timer_canceled_event_attributes"):
            if e.HasField(field):
                started.pop(int(getattr(e, field).started_event_id), None)
    return sorted(started.values(), key=lambda t: t["fire_ns"])


async def _describe_data(engine: TemporalEngine, ident: str) -> tuple[dict[str, Any], RunSummary]:
    s = await _summary(engine, ident)
    handle = engine.handle(s.pid, s.run_id)
    desc = await handle.describe()
    history = await handle.fetch_history()
    raw = desc.raw_description
    first = history.events[0].workflow_execution_started_event_attributes if history.events else None
    args = _decode(first.input.payloads) if first is not None else []
    pending: dict[str, Any] | None = None
    if s.status in OPEN:
        activities = []
        for a in raw.pending_activities:
            failure = {"message": a.last_failure.message, "kind": a.last_failure.application_failure_info.type} \
                if a.HasField("last_failure") else None  # fmt: skip
            nxt = _ns(a.next_attempt_schedule_time) if a.HasField("next_attempt_schedule_time") else 0
            activities.append({"seq": a.activity_id, "activity_type": a.activity_type.name, "attempt": a.attempt,
                               "next_attempt_ns": nxt, "last_failure": failure})  # fmt: skip
        children = [{"workflow_id": c.workflow_id, "run_id": c.run_id, "workflow_type": c.workflow_type_name,
                     "status": "running"} for c in raw.pending_children]  # fmt: skip
        # Temporal does not say which signals the workflow has not read yet: no mailbox here.
        pending = {"activities": activities, "timers": _pending_timers(list(history.events)), "children": children,
                   "inbox": None}  # fmt: skip
    data = render.describe_json(s, history_length=int(raw.workflow_execution_info.history_length), args=args,
                                pending=pending)  # fmt: skip
    return data, s


def describe(ctx: Ctx, server: Server, ident: str, as_json: bool) -> None:
    data, summary = run(ctx, server, lambda e: _describe_data(e, ident))
    if as_json:
        print_json(data)
    else:
        render.print_describe(data, summary)


def history(ctx: Ctx, server: Server, ident: str, as_json: bool) -> None:
    async def body(engine: TemporalEngine) -> tuple[RunSummary, Any]:
        s = await _summary(engine, ident)
        handle = engine.handle(s.pid, s.run_id)
        return s, await handle.fetch_history()

    s, h = run(ctx, server, body)
    if as_json:
        # Temporal's own export (what `temporal workflow show --output json` writes):
        # `duralua workflow replay --file` and Temporal's tools read it.
        print_json(h.to_json_dict())
        return
    events = list(h.events)
    title = f"history of {s.workflow_id} ({s.workflow_type}), run {s.run_id}: {len(events)} events"
    render.print_history(title, event_rows(events), _ns(events[0].event_time) if events else s.start_time_ns)


def replay(ctx: Ctx, server: Server, ident: str | None, all_runs: bool) -> list[tuple[str, bool, str, str]]:
    async def body(engine: TemporalEngine) -> list[tuple[str, bool, str, str]]:
        from ..temporal.replay import replay_history_async

        if all_runs:
            targets = [r.workflow_id for r in await engine.list_runs()]
        elif ident is not None:
            targets = [(await _summary(engine, ident)).workflow_id]
        else:
            fail("name a workflow id, --file or --all")
        out = []
        for wid in dict.fromkeys(targets):
            h = await engine.handle(wid).fetch_history()
            ok, message = await replay_history_async(ctx.app(), h)
            out.append((wid, ok, message, "ok" if ok else "NON-DETERMINISTIC"))
        return out

    return run(ctx, server, body)


# -- results and changes ------------------------------------------------------------------------


def outcome(ctx: Ctx, server: Server, ident: str, wait: bool,
            timeout: float | None) -> tuple[RunSummary, tuple[JSONValue, Failure | None] | None]:  # fmt: skip
    """The run and its outcome; None while it is open (after ``timeout`` with ``wait``)."""

    async def body(engine: TemporalEngine) -> tuple[RunSummary, tuple[JSONValue, Failure | None] | None]:
        s = await _summary(engine, ident)
        if s.status in OPEN and not wait:
            return s, None
        if s.status not in OPEN and s.status != "continued":
            return s, (s.result, s.failure)
        try:
            async with asyncio.timeout(timeout):
                found = await engine.result(ident)
        except TimeoutError:
            return await _summary(engine, ident), None
        return await _summary(engine, ident), found

    return run(ctx, server, body)


def start(ctx: Ctx, server: Server, request: StartRequest, wait: bool,
          timeout: float | None) -> tuple[RunSummary, tuple[JSONValue, Failure | None] | None]:  # fmt: skip
    async def body(engine: TemporalEngine) -> tuple[RunSummary, tuple[JSONValue, Failure | None] | None]:
        pid = await engine.start_workflow(request)
        found: tuple[JSONValue, Failure | None] | None = None
        if wait:
            try:
                async with asyncio.timeout(timeout):
                    found = await engine.result(pid)
            except TimeoutError:
                found = None
        return await _summary(engine, pid), found

    return run(ctx, server, body)


def change(ctx: Ctx, server: Server, ident: str,
           action: Callable[[TemporalEngine, str], Awaitable[Any]]) -> tuple[RunSummary, bool]:  # fmt: skip
    """Apply ``action(engine, pid)`` to an open run; (its summary, False) if it was closed."""

    async def body(engine: TemporalEngine) -> tuple[RunSummary, bool]:
        s = await _summary(engine, ident)
        if s.status not in OPEN:
            return s, False
        await action(engine, s.pid)
        return s, True

    return run(ctx, server, body)


def update(ctx: Ctx, server: Server, ident: str, name: str, args: list[JSONValue], update_id: str,
           timeout: float) -> tuple[RunSummary, tuple[JSONValue, Failure | None] | None]:  # fmt: skip
    async def body(engine: TemporalEngine) -> tuple[RunSummary, tuple[JSONValue, Failure | None] | None]:
        s = await _summary(engine, ident)
        if s.status not in OPEN:
            fail(f"workflow {s.workflow_id} is not running (status {s.status})")
        try:
            async with asyncio.timeout(timeout):
                return s, await engine.update(s.pid, name, args, update_id=update_id)
        except TimeoutError:
            return s, None

    return run(ctx, server, body)


def query(ctx: Ctx, server: Server, ident: str, name: str) -> tuple[RunSummary, JSONValue]:
    async def body(engine: TemporalEngine) -> tuple[RunSummary, JSONValue]:
        s = await _summary(engine, ident)
        try:
            return s, await engine.query(s.pid, name)
        except CallError as exc:
            fail(exc.failure.message, hint="the built-in queries are pid and state")

    return run(ctx, server, body)


def no_prune() -> NoReturn:
    fail("on Temporal, closed runs are kept for the namespace's retention and removed by the server",
         hint="change it with `temporal operator namespace update --retention 7d NAMESPACE`")  # fmt: skip
