"""The one dynamic Temporal workflow and the one dynamic activity that host duralua entries.

The workflow hosts the same deterministic core as the embedded engine (design.md §2): a
:class:`~duralua.core.machine.WorkflowMachine` driving the Lua of ``catalog.workflows[type]``.
Each Temporal activation becomes one machine activation (the jobs that resolved meanwhile —
activity results, timer fires, child outcomes, signals, a cancel request — are collected
until the SDK's event loop is quiet, then fed at once), and each command the machine returns
maps to one SDK call. Temporal checks the command sequence on replay, so non-determinism
fails the workflow task and the run is held until the code is fixed; host-fatal errors of the
machine (non-determinism of a version, Lua budget or memory limits, broken Lua) do the same by
raising a plain exception, which the SDK turns into a workflow task failure.

The workflow runs unsandboxed: Temporal's sandbox cannot import lupa, and the core is
deterministic by construction (no clock, no randomness, no I/O besides what the machine asks
for). Lua states are created per run, never shared between runs or threads.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NoReturn

import temporalio.exceptions
from temporalio import activity, workflow
from temporalio.common import RawValue

from ..catalog import Catalog, WorkerDef, WorkflowDef
from ..codec import DEFAULT_PAYLOAD_LIMIT, JSONValue, encode
from ..core import model as m
from ..core.machine import WorkflowMachine, answer_query
from ..core.validate import topic_problem
from ..errors import (
    ALREADY_EXISTS,
    CANCELED,
    INTERNAL,
    NOT_FOUND,
    TIMEOUT,
    ConfigError,
    EncodeError,
    Failure,
    invalid,
)
from ..lifecycle import LifecycleEvent
from ..lua.workflow_program import LuaWorkflowProgram
from ..runtime.functions import FunctionRuntime
from . import events as run_events
from . import search
from .converter import (
    CARRIED_HEADER,
    CONTEXT_HEADER,
    ORIGIN_HEADER,
    SENDER_HEADER,
    Payload,
    application_error,
    failure_from_error,
    from_payload,
    header_context,
    make_headers,
    read_header,
)
from .interceptors import activity_context
from .options import activity_kwargs, child_kwargs

Logger = Callable[[str, str], None]
#: Delivers ``process.send`` to a non-workflow PID: (target, topic, payloads, sender).
LocalSender = Callable[[str, str, list[JSONValue], str], None]


@dataclass
class WorkflowHost:
    """What the dynamic workflow of one worker (or of a replayer) needs to know."""

    catalog: Catalog
    worker: WorkerDef | None = None
    #: Custom search attributes of the namespace; ``None`` accepts every upsert unchecked.
    schema: dict[str, str] | None = None
    log: Logger | None = None
    memory_limit: int | None = None
    instruction_budget: int | None = None
    payload_limit: int = DEFAULT_PAYLOAD_LIMIT
    send_local: LocalSender | None = None
    #: Registers a search attribute a workflow sets before the namespace has it (dev servers).
    register_search: search.Register | None = None
    #: Where runs report their start, close and messages (the app's lifecycle stream).
    events: run_events.Emit | None = None

    def workflow_def(self, type_name: str) -> WorkflowDef | None:
        wf = self.catalog.workflows.get(type_name)
        if wf is None:
            # A custom ``meta.temporal.workflow.name`` is registered too (spec workflows.md §1).
            wf = next((w for w in self.catalog.workflows.values() if w.type_name == type_name), None)
        return wf


class WorkflowTaskFailure(RuntimeError):
    """Raised to fail the workflow task (Temporal retries it), never the workflow."""


def _evicting() -> bool:
    """True while the SDK tears the run down (cache eviction): it cancels every task then,
    which must not be mistaken for a cancel request of the workflow."""
    runtime_cls = getattr(workflow, "_Runtime", None)
    try:
        current = runtime_cls.current() if runtime_cls is not None else None
    except Exception:
        return False
    return bool(getattr(current, "_deleting", False))


def _decode_all(values: Sequence[RawValue]) -> list[JSONValue]:
    return [from_payload(v.payload) for v in values]


class DuraluaWorkflowBase:
    """The logic of the dynamic workflow; :func:`workflow_class` binds it to a host."""

    _host: WorkflowHost

    def __init__(self) -> None:
        self._jobs: list[m.Job] = []
        self._sender = ""
        self._activities: dict[int, workflow.ActivityHandle[Any]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._spawned = False
        self._carried: list[dict[str, JSONValue]] = []
        self._updates: dict[str, asyncio.Future[tuple[str, JSONValue]]] = {}
        self._cancel_seen = False
        self._machine: WorkflowMachine | None = None
        self.info: m.WorkflowInfo | None = None
        # Signals delivered in the run's first task reach the handler before the run has its
        # info (the SDK runs signal handlers first): reported just after the run's start.
        self._early_signals: list[tuple[str, str]] = []

    # -- interceptor hooks ----------------------------------------------------------------------

    def duralua_set_sender(self, sender: str) -> None:
        self._sender = sender

    def duralua_headers(self, kind: str, task_queue: str | None) -> Mapping[str, Payload]:
        info = self.info
        if info is None:
            return {}
        values: dict[str, Any] = {CONTEXT_HEADER: info.context}
        if kind == "signal":
            values[SENDER_HEADER] = info.pid
        elif kind == "child":
            # A child names itself {client@<its task queue>|id}, as its parent does (spec §2).
            values[ORIGIN_HEADER] = {
                "client_id": info.client_id,
                "worker_id": task_queue or info.task_queue,
                "parent": info.pid,
            }
        elif kind == "continue":
            values[ORIGIN_HEADER] = {
                "client_id": info.client_id,
                "worker_id": info.worker_id,
                "parent": info.parent_pid,
            }
            values[CARRIED_HEADER] = self._carried or None
        return make_headers(values)

    def _report(self, make: Callable[[], LifecycleEvent]) -> None:
        """Emit a lifecycle event, unless the SDK is replaying: that already happened."""
        emit = self._host.events
        if emit is not None and emit.listening and not workflow.unsafe.is_replaying():
            emit(make())

    # -- handlers -------------------------------------------------------------------------------

    def _on_signal(self, name: str, args: Sequence[RawValue]) -> None:
        sender, self._sender = self._sender, ""
        if name.startswith("@"):
            # The engine refuses these topics, but any Temporal client can send one: it would
            # forge an internal event (``@future/N`` resolves an activity, ``@timer/N`` fires).
            workflow.logger.warning("dropping signal %s: %s", name, topic_problem(name))
            return
        try:
            payloads = _decode_all(args)
        except Exception as exc:
            workflow.logger.warning("dropping signal %s: cannot decode its payload: %s", name, exc)
            return
        self._jobs.append(m.Signal(topic=name, sender=sender, payloads=payloads))
        info = self.info
        if info is None:
            self._early_signals.append((name, sender))
        else:
            self._report(lambda: run_events.run_signaled(info, name, sender))

    def _on_query(self, name: str) -> Any:
        queries = self._machine.queries if self._machine is not None else {}
        known, value = answer_query(workflow.info().workflow_id, queries, name)
        if not known:
            raise temporalio.exceptions.ApplicationError(f"unknown query type: {name}", type="Invalid")
        return value

    def _check_update(self, name: str, args: Sequence[RawValue]) -> None:
        """Refuse, before it is accepted, an update the workflow could not be given."""
        problem = topic_problem(name)
        if problem is not None:
            raise ValueError(problem.replace("signal topic", "update name"))
        _decode_all(args)  # arguments that cannot be decoded reject the update (spec §7.6)

    async def _on_update(self, name: str, args: Sequence[RawValue]) -> Any:
        """An update is a message from ``{update|<id>}``; the run's ok/error/nak answers it."""
        info = workflow.current_update_info()
        update_id = info.id if info is not None else str(workflow.uuid4())
        answer: asyncio.Future[tuple[str, JSONValue]] = asyncio.get_running_loop().create_future()
        self._updates[update_id] = answer
        self._jobs.append(m.Signal(topic=name, sender=m.update_sender(update_id), payloads=_decode_all(args)))
        topic, value = await answer
        if topic == "ok":
            return value
        kind = m.UPDATE_REJECTED_KIND if topic == "nak" else m.UPDATE_FAILED_KIND
        raise application_error(Failure(str(value), kind, False))

    # -- the run --------------------------------------------------------------------------------

    def _workflow_info(self) -> m.WorkflowInfo:
        ti = workflow.info()
        host = self._host
        origin = read_header(ti.headers, ORIGIN_HEADER)
        origin = origin if isinstance(origin, dict) else {}
        # Without an origin header (started by the CLI or another SDK) the PID is made of the
        # worker that owns the task queue: a top-level run is hosted by it, a child by its queue.
        owner = host.catalog.worker_for_queue(ti.task_queue) or host.worker
        client_id = str(origin.get("client_id") or (owner.client_id if owner else ""))
        worker_id = str(
            origin.get("worker_id") or (ti.task_queue if ti.parent is not None or owner is None else owner.id)
        )
        return m.WorkflowInfo(
            workflow_id=ti.workflow_id,
            run_id=ti.run_id,
            workflow_type=ti.workflow_type,
            task_queue=ti.task_queue,
            namespace=ti.namespace,
            attempt=ti.attempt,
            client_id=client_id,
            worker_id=worker_id,
            seed=workflow.random().getrandbits(62),
            context=header_context(ti.headers),
            parent_pid=str(origin.get("parent") or ""),
            start_time_ns=workflow.time_ns(),
        )

    async def _run(self, raw_args: Sequence[RawValue]) -> Any:
        host = self._host
        args = _decode_all(raw_args)
        info = self.info = self._workflow_info()
        wf = host.workflow_def(info.workflow_type)
        if wf is None:
            where = f"worker {host.worker.id}" if host.worker else "this replayer"
            raise WorkflowTaskFailure(
                f"workflow type {info.workflow_type} is not a workflow.lua entry of {where}; the task is "
                "retried until a worker that has it picks it up"
            )
        program = LuaWorkflowProgram(wf.code, log=host.log, memory_limit=host.memory_limit,
                                     instruction_budget=host.instruction_budget, scope=host.catalog)  # fmt: skip
        checker = search.checker(host.schema, info.namespace, host.register_search) if host.schema is not None else None
        machine = self._machine = WorkflowMachine(
            info,
            program,
            activity_defaults=host.catalog.activity_defaults,
            payload_limit=host.payload_limit,
            version_source=_version,
            check_search=checker,
        )
        # Messages the previous run left unread come first, before any signal sent to this run.
        carried = _carried_signals(read_header(workflow.info().headers, CARRIED_HEADER))
        jobs: list[m.Job] = [m.StartWorkflow(args=args), *carried, *self._take_jobs()]
        parent = workflow.info().parent
        self._report(lambda: run_events.run_started(info, parent.run_id if parent is not None else ""))
        for topic, sender in self._early_signals:
            self._report(functools.partial(run_events.run_signaled, info, topic, sender))
        self._early_signals.clear()
        try:
            while True:
                ti = workflow.info()
                activation = m.Activation(
                    workflow.time_ns(),
                    jobs,
                    replaying=workflow.unsafe.is_replaying(),
                    history_length=ti.get_current_history_length(),
                    history_size=ti.get_current_history_size(),
                    continue_as_new_suggested=ti.is_continue_as_new_suggested(),
                )
                self._spawned = False
                commands = machine.activate(activation)
                for cmd in commands:
                    if isinstance(cmd, m.TERMINAL):
                        return await self._finish(cmd)
                    self._apply(cmd)
                jobs = await self._next_jobs()
        finally:
            machine.close()

    def _push(self, job: m.Job) -> None:
        # Not ``self._jobs.append`` bound early: _take_jobs swaps the list.
        self._jobs.append(job)

    def _take_jobs(self) -> list[m.Job]:
        jobs, self._jobs = self._jobs, []
        return jobs

    async def _next_jobs(self) -> list[m.Job]:
        try:
            await workflow.wait_condition(lambda: bool(self._jobs))
        except asyncio.CancelledError:
            # A cancel request of the workflow: the Lua decides what to do (spec §10).
            if _evicting():
                raise
            self._cancel_seen = True
            self._jobs.append(m.CancelRequested())
        return self._take_jobs()

    async def _finish(self, cmd: m.Command) -> Any:
        if self._spawned:
            # Let the tasks started in this activation issue their commands (a child start, a
            # signal) before the run closes, as they were issued before the terminal command.
            try:
                await asyncio.sleep(0)
            except asyncio.CancelledError:
                if _evicting():
                    raise
        if isinstance(cmd, m.CompleteWorkflow):
            self._closed("completed", None)
            return cmd.result
        if isinstance(cmd, m.FailWorkflow):
            if cmd.failure.kind == CANCELED and self._cancel_seen and workflow.info().cron_schedule:
                # Temporal stops a cron chain only for a run that ends canceled (the embedded
                # engine closes such a run the same way): a cancelled run giving up with a
                # Canceled error ends so, instead of failing and scheduling the next run.
                self._closed("canceled", Failure("operation canceled", CANCELED, False))
                raise asyncio.CancelledError()
            self._closed("failed", cmd.failure)
            raise application_error(cmd.failure)
        assert isinstance(cmd, m.ContinueAsNew)
        self._closed("continued", None)
        # The machine's unread messages, then signals that came in after its last activation:
        # the run accepted both, so neither may be lost (the new run reads them first).
        late = [job for job in self._take_jobs() if isinstance(job, m.Signal)]
        self._carried = [
            *cmd.messages,
            *({"topic": job.topic, "sender": job.sender, "payloads": list(job.payloads)} for job in late),
        ]
        _continue_as_new(cmd)

    def _closed(self, status: str, failure: Failure | None) -> None:
        info = self.info
        if info is None:
            return
        started = workflow.info().workflow_start_time.timestamp()
        duration = workflow.time_ns() - int(started * 1e9)
        self._report(lambda: run_events.run_closed(info, status, failure, duration))

    # -- commands -------------------------------------------------------------------------------

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self._spawned = True

    def _apply(self, cmd: m.Command) -> None:
        if isinstance(cmd, m.ScheduleActivity):
            self._schedule_activity(cmd)
        elif isinstance(cmd, m.RequestCancelActivity):
            handle = self._activities.pop(cmd.target_seq, None)
            if handle is not None:
                handle.cancel()
        elif isinstance(cmd, m.StartTimer):
            loop = asyncio.get_running_loop()
            if cmd.duration_ns > 0:
                loop.call_later(cmd.duration_ns / 1e9, self._push, m.FireTimer(seq=cmd.seq))
            else:
                loop.call_soon(self._push, m.FireTimer(seq=cmd.seq))
        elif isinstance(cmd, m.StartChild):
            self._spawn(self._child(cmd))
        elif isinstance(cmd, m.SignalExternal):
            self._spawn(self._signal_external(cmd))
        elif isinstance(cmd, m.CancelExternal):
            self._spawn(self._cancel_external(cmd))
        elif isinstance(cmd, m.SendLocal):
            # A side effect done once, live only (spec §7.4): never repeated on replay.
            send = self._host.send_local
            if send is not None and not workflow.unsafe.is_replaying():
                send(cmd.target, cmd.topic, list(cmd.payloads), cmd.sender)
        elif isinstance(cmd, m.UpdateReply):
            answer = self._updates.get(cmd.update_id)
            if cmd.topic != "ack" and answer is not None:
                del self._updates[cmd.update_id]
                if not answer.done():
                    answer.set_result((cmd.topic, cmd.value))
        elif isinstance(cmd, m.UpsertAttributes):
            if cmd.search:
                workflow.upsert_search_attributes(search.updates(cmd.search, self._host.schema))
            if cmd.memo:
                workflow.upsert_memo(cmd.memo)
        # RecordMarker: only versions use markers, and patched() records those itself.

    def _placement(self, cmd: m.ScheduleActivity) -> tuple[bool, bool]:
        """(local, hosted): whether the activity runs as a local activity of this worker, and
        whether a duralua worker of this app polls its task queue (it then heartbeats)."""
        info = self.info
        assert info is not None
        queue = str(cmd.options.get("task_queue") or info.task_queue)
        owner = self._host.catalog.worker_for_queue(queue)
        if owner is None:
            return False, False
        return queue == info.task_queue and cmd.activity_type in owner.local_activities, True

    def _schedule_activity(self, cmd: m.ScheduleActivity) -> None:
        local, hosted = self._placement(cmd)
        try:
            kwargs = activity_kwargs(cmd.options, seq=cmd.seq, local=local, heartbeats=hosted)
        except ConfigError as exc:
            # The machine already vetted the table; a value only Temporal rejects ends up here.
            failure = invalid(f"invalid temporal activity options for {cmd.activity_type}: {exc.message}")
            self._jobs.append(m.ResolveActivity(seq=cmd.seq, failure=failure))
            return
        start = workflow.start_local_activity if local else workflow.start_activity
        handle = start(cmd.activity_type, args=list(cmd.args), **kwargs)
        self._activities[cmd.seq] = handle
        handle.add_done_callback(functools.partial(self._activity_done, cmd.seq, cmd.activity_type))

    def _activity_done(self, seq: int, activity_type: str, handle: asyncio.Future[Any]) -> None:
        self._activities.pop(seq, None)
        if handle.cancelled():
            job = m.ResolveActivity(seq=seq, failure=Failure("canceled", CANCELED, False))
        elif (err := handle.exception()) is not None:
            failure = failure_from_error(err, what="activity")
            job = m.ResolveActivity(seq=seq, failure=failure)
            info = self.info
            if info is not None and failure.kind != CANCELED:
                self._report(lambda: run_events.activity_failed(info, activity_type, failure))
        else:
            job = m.ResolveActivity(seq=seq, result=handle.result())
        self._jobs.append(job)

    async def _child(self, cmd: m.StartChild) -> None:
        try:
            kwargs = child_kwargs(cmd.options, self._host.schema)
            handle = await workflow.start_child_workflow(
                cmd.workflow_type,
                args=list(cmd.args),
                id=cmd.workflow_id,
                task_queue=cmd.task_queue,
                **kwargs,
            )
        except Exception as exc:
            self._jobs.append(m.ResolveChildStart(seq=cmd.seq, failure=_start_failure(exc, cmd)))
            return
        self._jobs.append(m.ResolveChildStart(seq=cmd.seq, run_id=handle.first_execution_run_id or ""))
        try:
            result = await handle
        except Exception as exc:
            self._jobs.append(m.ResolveChild(seq=cmd.seq, failure=_child_failure(exc, cmd)))
            return
        self._jobs.append(m.ResolveChild(seq=cmd.seq, result=result))

    async def _signal_external(self, cmd: m.SignalExternal) -> None:
        try:
            await workflow.get_external_workflow_handle(cmd.workflow_id).signal(cmd.topic, args=list(cmd.payloads))
        except Exception as exc:
            self._jobs.append(m.ResolveSignalExternal(seq=cmd.seq, failure=_external_failure(exc, cmd.workflow_id)))
            return
        self._jobs.append(m.ResolveSignalExternal(seq=cmd.seq))

    async def _cancel_external(self, cmd: m.CancelExternal) -> None:
        try:
            await workflow.get_external_workflow_handle(cmd.workflow_id).cancel()
        except Exception as exc:
            self._jobs.append(m.ResolveCancelExternal(seq=cmd.seq, failure=_external_failure(exc, cmd.workflow_id)))
            return
        self._jobs.append(m.ResolveCancelExternal(seq=cmd.seq))


def _version(change_id: str, lo: int, hi: int) -> int:
    """``workflow.version`` on Temporal: each version N is its own ``patched("id@N")``, checked
    from the highest down; no marker at all means the history predates the call (-1)."""
    for version in range(hi, max(lo, 0) - 1, -1):
        if workflow.patched(f"{change_id}@{version}"):
            return version
    return -1


def _carried_signals(value: Any) -> list[m.Job]:
    if not isinstance(value, list):
        return []
    jobs: list[m.Job] = []
    for item in value:
        if isinstance(item, dict) and isinstance(item.get("topic"), str) and isinstance(item.get("payloads"), list):
            sender = item.get("sender")
            jobs.append(
                m.Signal(
                    topic=item["topic"], sender=sender if isinstance(sender, str) else "", payloads=item["payloads"]
                )
            )
    return jobs


def _continue_as_new(cmd: m.ContinueAsNew) -> NoReturn:
    workflow.continue_as_new(args=list(cmd.args), workflow=cmd.workflow_type)


def _start_failure(exc: BaseException, cmd: m.StartChild) -> Failure:
    if isinstance(exc, temporalio.exceptions.WorkflowAlreadyStartedError):
        return Failure(f"workflow {cmd.workflow_id} is already running", ALREADY_EXISTS, False)
    if isinstance(exc, ConfigError):
        return invalid(exc.message)
    if isinstance(exc, ValueError):
        return invalid(str(exc))
    return failure_from_error(exc, what="workflow")


def _child_failure(exc: BaseException, cmd: m.StartChild) -> Failure:
    failure = failure_from_error(exc, what="workflow")
    if failure.kind == TIMEOUT and (failure.details or {}).get("timeout_type") == "start_to_close":
        # Temporal names run and execution timeouts alike; the child's options tell which fired
        # first (the embedded engine reports the same names).
        run, execution = cmd.options.get("run_timeout_ns"), cmd.options.get("execution_timeout_ns")
        which = "execution" if execution and (not run or int(execution) <= int(run)) else "run"
        details = {**(failure.details or {}), "timeout_type": which}
        failure = Failure(f"workflow {which} timeout", TIMEOUT, False, details, failure.stack)
    return failure


def _external_failure(exc: BaseException, workflow_id: str) -> Failure:
    failure = failure_from_error(exc)
    if "not found" in failure.message.lower():
        return Failure(f"workflow {workflow_id} not found or not running", NOT_FOUND, False)
    return failure


class DuraluaWorkflow(DuraluaWorkflowBase):
    """The handlers of the dynamic workflow. Temporal wants them on a module-level class, so
    :func:`workflow_class` makes a same-named subclass per host and registers that one."""

    @workflow.run
    async def run(self, args: Sequence[RawValue]) -> Any:
        return await self._run(args)

    @workflow.signal(dynamic=True)
    def signal(self, name: str, args: Sequence[RawValue]) -> None:
        self._on_signal(name, args)

    @workflow.query(dynamic=True)
    def query(self, name: str, args: Sequence[RawValue]) -> Any:
        return self._on_query(name)

    # An update still open when the run ends fails for its caller; that is no reason to warn.
    @workflow.update(dynamic=True, unfinished_policy=workflow.HandlerUnfinishedPolicy.ABANDON)
    async def update(self, name: str, args: Sequence[RawValue]) -> Any:
        return await self._on_update(name, args)

    @update.validator
    def validate_update(self, name: str, args: Sequence[RawValue]) -> None:
        self._check_update(name, args)


def workflow_class(host: WorkflowHost) -> type[DuraluaWorkflow]:
    """A dynamic workflow class bound to ``host`` (one per worker, or per replay)."""
    namespace = {
        "__module__": __name__,
        "__qualname__": DuraluaWorkflow.__qualname__,
        "_host": host,
        "run": DuraluaWorkflow.run,
        "signal": DuraluaWorkflow.signal,
        "query": DuraluaWorkflow.query,
        "update": DuraluaWorkflow.update,
        "validate_update": DuraluaWorkflow.validate_update,
    }
    cls = type(DuraluaWorkflow.__name__, (DuraluaWorkflow,), namespace)
    return workflow.defn(dynamic=True, sandboxed=False)(cls)


# ---------------------------------------------------------------------------------------------
# The dynamic activity
# ---------------------------------------------------------------------------------------------

_HEARTBEAT_EVERY = timedelta(seconds=10)
_TIMEOUT_GRACE = timedelta(seconds=1)


def activity_function(
    runtime: FunctionRuntime,
    worker: WorkerDef,
    payload_limit: int = DEFAULT_PAYLOAD_LIMIT,
    events: run_events.Emit | None = None,
) -> Callable[..., Awaitable[Any]]:
    """The dynamic activity of ``worker``: runs function entries through ``runtime``.

    Activity type = function entry id. Context values arrive in the ``wippy-context`` header.
    A type that is not an activity of this worker fails like Temporal's "activity not
    registered": kind NotFound, retryable (spec activities.md §5). Each attempt is reported
    to ``events`` (the app's lifecycle stream).
    """

    @activity.defn(dynamic=True)
    async def run_function(args: Sequence[RawValue]) -> Any:
        info = activity.info()
        context = activity_context.get() or {}
        started = time.time_ns()

        def report(failure: Failure | None) -> None:
            if events is not None and events.listening:
                for event in run_events.attempt_ended(info, started, time.time_ns(), failure, context):
                    events(event)

        try:
            value, failure = await _attempt(runtime, worker, info, args, context, payload_limit)
        except _AttemptTimedOut:
            # The server timed the attempt out; the function was stopped soon after so it does
            # not hold a slot for ever. Complete nothing: the server's timeout is the outcome.
            report(Failure("activity start_to_close timeout", TIMEOUT, None, {"timeout_type": "start_to_close"}))
            activity.raise_complete_async()
        except asyncio.CancelledError:
            report(Failure("operation canceled", CANCELED, False))
            raise
        report(failure)
        if failure is not None:
            raise application_error(failure)
        return value

    return run_function


class _AttemptTimedOut(Exception):
    """The attempt outlived its start_to_close timeout (the server has already timed it out)."""


async def _attempt(
    runtime: FunctionRuntime,
    worker: WorkerDef,
    info: activity.Info,
    args: Sequence[RawValue],
    context: dict[str, Any],
    payload_limit: int,
) -> tuple[JSONValue, Failure | None]:
    name = info.activity_type
    if name not in worker.activities:
        return None, Failure(
            f"activity {name} is not registered on task queue {info.task_queue} "
            "(add meta.temporal.activity.worker to the function entry)",
            NOT_FOUND,
            True,
        )
    values = _decode_all(args)
    limit = info.start_to_close_timeout
    # Local activities cannot heartbeat (and are cancelled by their own worker anyway).
    watch = _Watch(not info.is_local, info.heartbeat_timeout, (limit + _TIMEOUT_GRACE) if limit else None)
    try:
        value, failure = await _invoke(runtime, name, values, context)
    except asyncio.CancelledError:
        if watch.expired():
            raise _AttemptTimedOut() from None
        raise
    finally:
        watch.stop()
    if failure is None:
        try:
            encode(value, path="result", limit=payload_limit)
        except EncodeError as exc:
            failure = Failure(f"activity result cannot be encoded: {exc}", INTERNAL, False)
    return value, failure


async def _invoke(
    runtime: FunctionRuntime, name: str, values: list[JSONValue], context: dict[str, Any]
) -> tuple[JSONValue, Failure | None]:
    fn = runtime.functions.get(name)
    if fn is not None and fn.python is not None and not inspect.iscoroutinefunction(fn.python):
        # A synchronous Python function would block this loop, and with it the heartbeats: the
        # server would time a slow one out and retry it while it still runs. Temporal's SDK
        # runs synchronous activities on threads too.
        started = await asyncio.to_thread(runtime.start_call, name, values, context)
        return await runtime.finish_call(started)
    return await runtime.invoke(name, values, context)


class _Watch:
    """One loop timer per attempt for its heartbeats and its start-to-close bound.

    Heartbeats because Lua has no heartbeat API, heartbeats are how a worker learns that the
    activity was cancelled, and a heartbeat timeout is how the server learns that the worker
    died: three beats per timeout leave room for a busy event loop. The bound (the server's
    timeout and a grace) cancels the attempt, so a function the server has given up on does
    not hold a slot for ever. A timer, not a task, and one for both (a task per attempt, or
    ``asyncio.timeout`` beside the beat timer, cost more than the beats of most functions,
    which end before the first one). The cancellation is told from any other one as
    ``asyncio.timeout`` does it: by the task's count of pending cancellations."""

    __slots__ = ("_deadline", "_every", "_expired", "_handle", "_loop", "_task")

    def __init__(self, beats: bool, heartbeat_timeout: timedelta | None, limit: timedelta | None) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        self._expired = False
        now = self._loop.time()
        self._deadline = now + limit.total_seconds() if limit else None
        if not beats:
            self._every: float | None = None
        else:
            every = min(heartbeat_timeout / 3, _HEARTBEAT_EVERY) if heartbeat_timeout else _HEARTBEAT_EVERY
            self._every = max(every.total_seconds(), 0.05)
        # The heartbeat timeout counts from the start too: a function that ends sooner never
        # heartbeats (a heartbeat at once cost a quick activity ~10% of the worker's CPU).
        self._handle = self._arm(now)

    def _arm(self, now: float) -> asyncio.TimerHandle | None:
        due = now + self._every if self._every is not None else None
        if self._deadline is not None and (due is None or self._deadline < due):
            due = self._deadline
        # call_at runs the callback in a copy of this context: the activity's, which heartbeat() reads
        return self._loop.call_at(due, self._fire) if due is not None else None

    def _fire(self) -> None:
        now = self._loop.time()
        if self._deadline is not None and now >= self._deadline:
            if self._task is not None and not self._task.done():
                self._expired = True
                self._task.cancel()
            self._handle = None
            return
        activity.heartbeat()  # if it raises, the loop logs it and the beats stop (as a task's would)
        self._handle = self._arm(now)

    def expired(self) -> bool:
        """Whether the bound cancelled the attempt and no other cancellation is pending."""
        return self._expired and self._task is not None and self._task.uncancel() == 0

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
