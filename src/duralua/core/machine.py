"""The workflow machine: one run of a workflow, driven one activation at a time.

``WorkflowMachine.activate(activation) -> commands`` is the whole contract with engines
(design.md §2). The machine owns the process :class:`Scheduler`; the Lua program yields
*operations* (``call``, ``sleep``, ``spawn`` ...) which the machine turns into numbered
commands, and the jobs of later activations resolve them. Workflow errors never escape as
exceptions: they become a ``FailWorkflow`` command. Host-fatal conditions (budget, memory,
non-determinism, a version out of range) raise, so Lua ``pcall`` cannot swallow them and the
engine can hold the run until the code is fixed.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from ..codec import JSONValue, encode
from ..errors import (
    INTERNAL,
    INVALID,
    BudgetExceeded,
    EncodeError,
    Failure,
    MemoryLimitExceeded,
    NondeterminismError,
    internal,
    invalid,
)
from . import model as m
from .options import OptionError, check_child_options, parse_activity_options, parse_workflow_options
from .pid import PID, parse_pid
from .scheduler import PENDING, CoroutineVM, Deadlock, Delivery, ProcessFailed, Scheduler

# Temporal refuses a workflow task with more than 2,000 pending operations; the same bound
# keeps one step from freezing the embedded engine (100,000 funcs.async in a loop).
MAX_COMMANDS_PER_ACTIVATION = 2000


class WorkflowProgram(Protocol):
    """A loaded workflow the machine drives (the Lua layer implements it)."""

    @property
    def vm(self) -> CoroutineVM: ...

    def bind(self, scheduler: Scheduler, host: WorkflowMachine) -> None:
        """Install modules that talk to ``scheduler`` and read the clock/randomness of ``host``."""
        ...

    def start(self, args: list[JSONValue]) -> None:
        """Make the entry function the main coroutine, called with ``args``."""
        ...

    def result_of(self, values: tuple[Any, ...]) -> tuple[JSONValue, Failure | None]:
        """Convert the main coroutine's return values (may raise EncodeError)."""
        ...

    def failure_of(self, raised: Any) -> Failure:
        """Convert a raised Lua value into a Failure."""
        ...

    @property
    def usable(self) -> bool:
        """False when the program should not be stepped again but rebuilt by replay (its
        state reached a limit, maybe through another run sharing it)."""
        ...

    def close(self) -> None: ...


@dataclass(slots=True)
class _Pending:
    kind: str  # call | future | sleep | timer | ticker | spawn | exec | wexec | child_exit | signal | cancel
    coro: int = 0
    topic: str = ""
    interval_ns: int = 0
    pid: str = ""
    due_ns: int = 0  # timers: when it fires (workflow time)


class WorkflowMachine:
    """One workflow run. Also the HostContext of its Lua modules (clock, randomness)."""

    deterministic = True

    def __init__(
        self,
        info: m.WorkflowInfo,
        program: WorkflowProgram,
        *,
        activity_defaults: Callable[[str], dict[str, Any]] | None = None,
        recorded_versions: dict[str, int] | None = None,
        payload_limit: int | None = None,
        version_source: Callable[[str, int, int], int] | None = None,
        check_search: Callable[[dict[str, Any]], Failure | None] | None = None,
    ) -> None:
        """``version_source`` lets an engine that records versions itself (Temporal's
        ``patched``) decide ``workflow.version``; no RecordMarker is emitted then.
        ``check_search`` vets search attributes against the server's schema before an
        upsert, so Lua gets a catchable error instead of a stuck workflow."""
        self.info = info
        self.program = program
        self._activity_defaults = activity_defaults or (lambda _target: {})
        self._recorded_versions = dict(recorded_versions or {})
        self._payload_limit = payload_limit
        self._versions: dict[str, int] = {}
        self._version_source = version_source
        self._check_search = check_search
        self._pending: dict[int, _Pending] = {}
        self._seq = 0
        self._commands: list[m.Command] = []
        self._now = info.start_time_ns
        self._replaying = False
        self._history_length = 0
        self._history_size = 0
        self._continue_as_new_suggested = False
        # Set by history.replay(): the commands produced are only compared with the recorded ones
        # (kind and name) and then dropped, so what only matters for a new command (options
        # parsed, payloads checked against the limit, context copied) is skipped. Temporal's
        # replay hands its commands to the SDK and never sets it.
        self.replay_only = False
        self._random: random.Random | None = None  # made on first use: most runs never draw
        # Updates in flight: id -> "new" (no reply yet) | "accepted" (acked) | "done".
        self._updates: dict[str, str] = {}
        # What named queries answer (workflow.set_query); rebuilt on replay, never in history.
        self.queries: dict[str, JSONValue] = {}
        self.finished: m.Command | None = None
        self.scheduler = Scheduler(None, self._on_op)
        program.bind(self.scheduler, self)
        self.scheduler.attach(program.vm)

    # -- HostContext ---------------------------------------------------------------------------

    def now_ns(self) -> int:
        return self._now

    def monotonic_s(self) -> float:
        return (self._now - self.info.start_time_ns) / 1e9

    def side_effect(self, name: str, produce: Callable[[], JSONValue]) -> JSONValue:
        # Randomness inside workflows comes from random_bytes(), seeded from the run's
        # recorded seed, so a side effect replays identically without a marker.
        return produce()

    def random_bytes(self, n: int) -> bytes:
        if self._random is None:
            self._random = random.Random(self.info.seed)
        return self._random.randbytes(n)

    @property
    def pid(self) -> str:
        return self.info.pid

    @property
    def context(self) -> dict[str, Any]:
        return self.info.context

    # -- activation ----------------------------------------------------------------------------

    def activate(self, activation: m.Activation) -> list[m.Command]:
        """Apply the jobs of one activation, run the Lua until it blocks, return new commands."""
        self._commands = []
        if self.finished is not None:
            return []
        self._now = activation.time_ns
        self._replaying = activation.replaying
        self._history_length = activation.history_length
        self._history_size = activation.history_size
        self._continue_as_new_suggested = activation.continue_as_new_suggested
        sched = self.scheduler
        messages: list[Delivery] = []
        exits: list[Delivery] = []
        for job in activation.jobs:
            self._apply(job, messages, exits)
        for d in messages:
            sched.deliver(d)
        for d in exits:
            sched.deliver(d)
        try:
            sched.run()
        except ProcessFailed as exc:
            self._finish(m.FailWorkflow(self._next(), failure=self._failure_of(exc.error)))
        except Deadlock as exc:
            self._finish(m.FailWorkflow(self._next(), failure=internal(str(exc))))
        if self.finished is None and sched.done:
            try:
                result, failure = self.program.result_of(sched.result)
                if failure is None:
                    encode(result, path="result", limit=self._payload_limit)
            except EncodeError as exc:
                failure = Failure(f"failed to encode result: {exc}", INTERNAL, False)
                result = None
            except (BudgetExceeded, MemoryLimitExceeded):
                raise
            except Exception as exc:  # a value the program could not convert: the run fails, not the host
                failure = Failure(f"the workflow result cannot be converted: {exc}", INVALID, False)
                result = None
            if failure is not None:
                self._finish(m.FailWorkflow(self._next(), failure=failure))
            else:
                self._finish(m.CompleteWorkflow(self._next(), result=result))
        return self._commands

    def _failure_of(self, raised: Any) -> Failure:
        try:
            return self.program.failure_of(raised)
        except (BudgetExceeded, MemoryLimitExceeded):
            raise
        except Exception as exc:
            return Failure(f"the workflow raised an error value that cannot be converted: {exc}", INTERNAL, False)

    def timers_only_until(self) -> int | None:
        """When the run waits for timers and nothing else it has asked for (no activity, child,
        external signal or update in flight), the time its earliest timer fires; None otherwise,
        and for a run that waits for messages alone (no timer: it may be woken at any time)."""
        if self.finished is not None or not self._pending:
            return None
        if self._updates and any(state != "done" for state in self._updates.values()):
            return None
        due: int | None = None
        for p in self._pending.values():
            if p.kind not in ("sleep", "timer", "ticker"):
                return None
            if due is None or p.due_ns < due:
                due = p.due_ns
        return due

    def close(self) -> None:
        self.program.close()
        self.scheduler.detach()

    def _finish(self, cmd: m.Command) -> None:
        self.finished = cmd
        self._commands.append(cmd)

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def _emit(self, cmd: m.Command) -> None:
        if len(self._commands) >= MAX_COMMANDS_PER_ACTIVATION:
            # Raised in Python, not through Lua: pcall cannot swallow it, and the engine holds
            # the run (as Temporal fails a workflow task over its pending-operation limit).
            raise BudgetExceeded(
                f"one step issued more than {MAX_COMMANDS_PER_ACTIVATION} commands (activities, timers, "
                "children, signals); block on some of them (e.g. await futures in batches) before issuing more"
            )
        self._commands.append(cmd)

    def _apply(self, job: m.Job, messages: list[Delivery], exits: list[Delivery]) -> None:
        sched = self.scheduler
        if isinstance(job, m.StartWorkflow):
            self.program.start(job.args)
        elif isinstance(job, m.ResolveActivity):
            p = self._pending.pop(job.seq, None)
            if p is None:
                return  # cancelled future: a late result is ignored
            if p.kind == "call":
                sched.resolve(p.coro, (job.result, job.failure))
            else:
                messages.append(Delivery(p.topic, "", [], kind="future", data=job.failure or FutureResult(job.result)))
        elif isinstance(job, m.FireTimer):
            p = self._pending.pop(job.seq, None)
            if p is None:
                return
            if p.kind == "sleep":
                sched.resolve(p.coro, ())
            else:
                messages.append(Delivery(p.topic, "", [], kind="time", data=self._now))
                if p.kind == "ticker":
                    seq = self._next()
                    self._pending[seq] = _Pending("ticker", topic=p.topic, interval_ns=p.interval_ns,
                                                  due_ns=self._now + p.interval_ns)  # fmt: skip
                    self._emit(m.StartTimer(seq, duration_ns=p.interval_ns))
        elif isinstance(job, m.ResolveChildStart):
            p = self._pending.get(job.seq)
            if p is None:
                return
            if job.failure is not None:
                del self._pending[job.seq]
                sched.resolve(p.coro, (None, job.failure))
            elif p.kind == "spawn":
                self._pending[job.seq] = _Pending("child_exit", pid=p.pid)
                sched.resolve(p.coro, (p.pid, None))
        elif isinstance(job, m.ResolveChild):
            p = self._pending.pop(job.seq, None)
            if p is None:
                return
            if p.kind in ("exec", "wexec"):
                failure = job.failure
                if failure is not None and p.kind == "wexec" and failure.retryable is None:
                    failure = Failure(failure.message, failure.kind or INTERNAL, True, failure.details)
                sched.resolve(p.coro, (None if failure else job.result, failure))
            else:
                exits.append(
                    Delivery(
                        "@events",
                        "",
                        [],
                        kind="event",
                        data={
                            "kind": "pid.exit",
                            "from": p.pid,
                            "at": self._now // 1_000_000_000,
                            "result": {"value": job.result, "error": job.failure},
                        },
                    )
                )
        elif isinstance(job, (m.ResolveSignalExternal, m.ResolveCancelExternal)):
            p = self._pending.pop(job.seq, None)
            if p is not None:
                sched.resolve(p.coro, (None, job.failure) if job.failure else (True, None))
        elif isinstance(job, m.Signal):
            update_id = m.update_id_of(job.sender)
            if update_id is not None:
                self._updates.setdefault(update_id, "new")
            messages.append(Delivery(job.topic, job.sender, list(job.payloads)))
        elif isinstance(job, m.CancelRequested):
            at = datetime.fromtimestamp(self._now / 1e9, UTC).isoformat().replace("+00:00", "Z")
            messages.append(
                Delivery("@events", "", [], kind="event", data={"kind": "pid.cancel", "from": job.sender, "at": at})
            )

    # -- operations ----------------------------------------------------------------------------

    def _on_op(self, coro: int, op: str, args: tuple[Any, ...]) -> Any:
        handler = _HANDLERS.get(op)
        if handler is None:
            return (None, invalid(f"{op} is not available inside a workflow"))
        return handler(self, coro, *args)

    def _op_history_length(self, coro: int) -> Any:
        return (self._history_length, None)

    def _op_history_size(self, coro: int) -> Any:
        return (self._history_size, None)

    def _activity(self, target: Any, args: list[JSONValue], options: dict[str, Any] | None) -> Any:
        problem = _check_function_id(target)
        if problem:
            return problem
        if self.replay_only and self._replaying:
            seq = self._next()
            self._emit(m.ScheduleActivity(seq, target, args))
            return seq
        merged = dict(self._activity_defaults(target))
        if options:
            merged.update(options)
        try:
            parsed = parse_activity_options(merged)
        except OptionError as exc:
            return invalid(f"invalid temporal activity options for {target}: {exc}")
        try:
            encode(args, path="args", limit=self._payload_limit)
        except EncodeError as exc:
            return Failure(f"cannot encode arguments of {target}: {exc}", INVALID, False)
        seq = self._next()
        self._emit(m.ScheduleActivity(seq, target, list(args), parsed, dict(self.info.context)))
        return seq

    def _op_call(
        self, coro: int, target: Any, args: list[JSONValue], options: dict[str, Any] | None, *_ctx: Any
    ) -> Any:
        seq = self._activity(target, args, options)
        if isinstance(seq, Failure):
            return (None, seq)
        self._pending[seq] = _Pending("call", coro)
        return PENDING

    def _op_async(
        self, coro: int, target: Any, args: list[JSONValue], options: dict[str, Any] | None, *_ctx: Any
    ) -> Any:
        seq = self._activity(target, args, options)
        if isinstance(seq, Failure):
            return (None, None, seq)
        topic = f"@future/{seq}"
        self._pending[seq] = _Pending("future", coro, topic=topic)
        return (seq, topic, None)

    def _op_future_cancel(self, coro: int, seq: int) -> Any:
        if self._pending.pop(seq, None) is not None:
            self._emit(m.RequestCancelActivity(self._next(), target_seq=seq))
        return (True, None)

    def _op_sleep(self, coro: int, ns: int) -> Any:
        if ns < 0:
            return (None, invalid("duration must not be negative"))
        if ns == 0:
            return (True, None)
        seq = self._next()
        self._emit(m.StartTimer(seq, duration_ns=ns))
        self._pending[seq] = _Pending("sleep", coro, due_ns=self._now + ns)
        return PENDING

    def _op_timer(self, coro: int, ns: int, kind: str, topic: str) -> Any:
        seq = self._next()
        self._emit(m.StartTimer(seq, duration_ns=ns))
        self._pending[seq] = _Pending("ticker" if kind == "ticker" else "timer", topic=topic, interval_ns=ns,
                                      due_ns=self._now + ns)  # fmt: skip
        return (True, None)

    def _op_timer_stop(self, coro: int, topic: str) -> Any:
        # The timer itself is left to fire (as Wippy does); its fire is just ignored.
        for seq, p in list(self._pending.items()):
            if p.topic == topic and p.kind in ("timer", "ticker"):
                del self._pending[seq]
                return (True, None)
        return (False, None)

    def _child(
        self,
        coro: int,
        kind: str,
        target: Any,
        host: Any,
        args: list[JSONValue],
        options: dict[str, Any] | None,
    ) -> Any:
        problem = _check_function_id(target, what="workflow")
        if problem:
            return (None, problem)
        if kind == "exec" and not host:
            return (None, invalid("host ID required"))
        try:
            opts = parse_workflow_options(options or {})
        except OptionError as exc:
            return (None, invalid(str(exc)))
        problem_text = check_child_options(opts)
        if problem_text is not None:
            return (None, invalid(problem_text))
        try:
            encode(args, path="args", limit=self._payload_limit)
        except EncodeError as exc:
            return (None, Failure(f"cannot encode arguments of {target}: {exc}", INVALID, False))
        seq = self._next()
        queue = host if isinstance(host, str) and host else self.info.task_queue
        workflow_id = opts.pop("id", None) or f"{self.info.run_id}_{seq}"
        pid = str(PID(self.info.client_id, queue, workflow_id))
        self._emit(
            m.StartChild(
                seq,
                workflow_type=target,
                workflow_id=workflow_id,
                task_queue=queue,
                args=list(args),
                options=opts,
                context=dict(self.info.context),
                wait=kind != "spawn",
            )
        )
        self._pending[seq] = _Pending(kind, coro, pid=pid)
        return PENDING

    def _op_spawn(self, coro: int, target: Any, host: Any, args: list[JSONValue], options: Any, *_rest: Any) -> Any:
        # Inside workflows with_name/with_message are ignored for children (as in Wippy).
        return self._child(coro, "spawn", target, host, args, options)

    def _op_exec(self, coro: int, target: Any, host: Any, args: list[JSONValue], options: Any, *_rest: Any) -> Any:
        return self._child(coro, "exec", target, host, args, options)

    def _op_wexec(self, coro: int, target: Any, args: list[JSONValue]) -> Any:
        if not isinstance(target, str) or not target:
            return (None, invalid("workflow ID required"))
        return self._child(coro, "wexec", target, self.info.task_queue, args, None)

    def _op_send(self, coro: int, dest: Any, topic: Any, payloads: list[JSONValue]) -> Any:
        if not isinstance(topic, str) or not topic:
            return (None, invalid("topic required"))
        if topic.startswith("@"):
            return (None, invalid("cannot send to @ topics"))
        pid = parse_pid(dest) if isinstance(dest, str) else None
        if pid is None:
            return (None, Failure(f"could not resolve '{dest}' as PID or registered name", "NotFound", False))
        try:
            encode(payloads, path="payload", limit=self._payload_limit)
        except EncodeError as exc:
            return (None, Failure(f"cannot encode message: {exc}", INVALID, False))
        if pid.host == m.UPDATE_HOST and not pid.node:
            return self._reply_update(pid.uniq, topic, payloads)
        if pid.uniq == self.info.workflow_id and pid.host in (self.info.worker_id, self.info.task_queue):
            return (True, None)  # a workflow sending to itself is a no-op (as in Wippy)
        if self._is_workflow_pid(pid):
            seq = self._next()
            self._emit(m.SignalExternal(seq, workflow_id=pid.uniq, topic=topic, payloads=payloads, sender=self.pid))
            self._pending[seq] = _Pending("signal", coro)
            return PENDING
        self._emit(m.SendLocal(self._next(), target=str(dest), topic=topic, payloads=payloads, sender=self.pid))
        return (True, None)

    def _reply_update(self, update_id: str, topic: str, payloads: list[JSONValue]) -> Any:
        """One reply of the update protocol (spec §7.6), checked here so both engines refuse
        the same out-of-order replies with the same error."""
        state = self._updates.get(update_id)
        if state is None:
            return (None, Failure(f"no update {update_id} is waiting for a reply", "NotFound", False))
        if topic not in _UPDATE_TOPICS:
            return (None, invalid(f"update reply topic must be ack, nak, ok or error, not {topic!r}"))
        if topic in ("ack", "nak") and state != "new":
            return (None, invalid(f"update {update_id} was already {'accepted' if state == 'accepted' else 'answered'}"
                                  f"; {topic} must be the first reply"))  # fmt: skip
        if topic in ("ok", "error") and state != "accepted":
            what = "is finished" if state == "done" else "was not accepted yet (reply ack first)"
            return (None, invalid(f"update {update_id} {what}; cannot reply {topic}"))
        value: JSONValue = payloads[0] if len(payloads) == 1 else (list(payloads) if payloads else None)
        if topic in ("nak", "error"):
            default = "update rejected" if topic == "nak" else "update failed"
            value = value if isinstance(value, str) and value else default
        self._updates[update_id] = "accepted" if topic == "ack" else "done"
        self._emit(m.UpdateReply(self._next(), update_id=update_id, topic=topic, value=value))
        return (True, None)

    def _is_workflow_pid(self, pid: PID) -> bool:
        return pid.node == self.info.client_id or pid.host in (self.info.worker_id, "temporal")

    def _op_cancel_external(self, coro: int, dest: Any, *_reason: Any) -> Any:
        pid = parse_pid(dest) if isinstance(dest, str) else None
        if pid is None:
            return (None, Failure(f"could not resolve '{dest}' as PID or registered name", "NotFound", False))
        seq = self._next()
        self._emit(m.CancelExternal(seq, workflow_id=pid.uniq))
        self._pending[seq] = _Pending("cancel", coro)
        return PENDING

    def _op_unsupported(self, coro: int, *_args: Any) -> Any:
        return (
            None,
            Failure(
                "process.link not supported in workflow context: workflows can only be "
                "observed through child EXIT events",
                INTERNAL,
                False,
            ),
        )

    def _op_version(self, coro: int, change_id: Any, lo: Any, hi: Any) -> Any:
        if not isinstance(change_id, str) or not change_id:
            return (None, invalid("change ID required"))
        if not isinstance(lo, int) or not isinstance(hi, int) or lo > hi:
            return (None, invalid("min version must not be greater than max version"))
        if change_id in self._versions:
            version = self._versions[change_id]
        elif self._version_source is not None:
            version = self._version_source(change_id, lo, hi)
        elif change_id in self._recorded_versions:
            version = self._recorded_versions[change_id]
            self._emit(m.RecordMarker(self._next(), name="version", value={"id": change_id, "version": version}))
        elif self._replaying:
            version = -1  # history passed this point before the call existed
        else:
            version = hi
            self._emit(m.RecordMarker(self._next(), name="version", value={"id": change_id, "version": version}))
        self._versions[change_id] = version
        if not lo <= version <= hi:
            raise NondeterminismError(
                f'workflow.version("{change_id}", {lo}, {hi}): the history recorded version {version}, '
                "which this code no longer supports",
                position=self._seq,
                recorded=f"version {version}",
                produced=f"range [{lo}, {hi}]",
            )
        return (version, None)

    def _op_attrs(self, coro: int, search: Any, memo: Any) -> Any:
        if search is None and memo is None:
            return (None, invalid("attrs requires a search or memo table"))
        for name, value in (("search", search), ("memo", memo)):
            if value is not None and not isinstance(value, dict):
                return (None, invalid(f"{name} must be a table"))
        if search:
            for key, value in search.items():
                if _search_type(value) is None:
                    return (None, invalid(f"search attribute {key}: unsupported value type"))
            if self._check_search is not None:
                problem = self._check_search(search)
                if problem is not None:
                    return (None, problem)
        self._emit(m.UpsertAttributes(self._next(), search=search, memo=memo))
        return (True, None)

    def _op_info(self, coro: int) -> Any:
        i = self.info
        return (
            {
                "workflow_id": i.workflow_id,
                "run_id": i.run_id,
                "workflow_type": i.workflow_type,
                "task_queue": i.task_queue,
                "namespace": i.namespace,
                "attempt": i.attempt,
                "history_length": self._history_length,
                "history_size": self._history_size,
                "continue_as_new_suggested": self._continue_as_new_suggested,
            },
            None,
        )

    def _op_upgrade(self, coro: int, target: Any, args: list[JSONValue]) -> Any:
        workflow_type = target if isinstance(target, str) and target else self.info.workflow_type
        # An update belongs to this run: it fails when the run ends instead of moving on.
        unread = [{"topic": d.topic, "sender": d.sender, "payloads": list(d.payloads)}
                  for d in self.scheduler.unread_messages() if m.update_id_of(d.sender) is None]  # fmt: skip
        self._finish(m.ContinueAsNew(self._next(), workflow_type=workflow_type, args=list(args), messages=unread))
        self.scheduler.done = True
        return PENDING

    def _op_set_query(self, coro: int, name: Any, value: Any) -> Any:
        if not isinstance(name, str) or not name:
            return (None, invalid("query name required"))
        if name == "pid":
            return (None, invalid('the "pid" query is built in and cannot be set'))
        if value is None:
            self.queries.pop(name, None)
            return (True, None)
        try:
            encode(value, path=f"query {name}", limit=self._payload_limit)
        except EncodeError as exc:
            return (None, Failure(f"cannot encode query {name}: {exc}", INVALID, False))
        self.queries[name] = value
        return (True, None)

    def query(self, name: str) -> tuple[bool, JSONValue]:
        """(known, value) of a query: ``pid``, ``state`` (``{}`` unless set) or a set one."""
        return answer_query(self.info.workflow_id, self.queries, name)


_UPDATE_TOPICS = ("ack", "nak", "ok", "error")

# Operation name -> handler (unbound: a table per machine cost a rebuild as much as a replayed
# activation).
_HANDLERS: dict[str, Callable[..., Any]] = {
    "call": WorkflowMachine._op_call,
    "async": WorkflowMachine._op_async,
    "future_cancel": WorkflowMachine._op_future_cancel,
    "sleep": WorkflowMachine._op_sleep,
    "timer": WorkflowMachine._op_timer,
    "timer_stop": WorkflowMachine._op_timer_stop,
    "spawn": WorkflowMachine._op_spawn,
    "exec": WorkflowMachine._op_exec,
    "wexec": WorkflowMachine._op_wexec,
    "psend": WorkflowMachine._op_send,
    "terminate": WorkflowMachine._op_cancel_external,
    "cancel": WorkflowMachine._op_cancel_external,
    "monitor": WorkflowMachine._op_unsupported,
    "unmonitor": WorkflowMachine._op_unsupported,
    "link": WorkflowMachine._op_unsupported,
    "unlink": WorkflowMachine._op_unsupported,
    "version": WorkflowMachine._op_version,
    "attrs": WorkflowMachine._op_attrs,
    "info": WorkflowMachine._op_info,
    "history_length": WorkflowMachine._op_history_length,
    "history_size": WorkflowMachine._op_history_size,
    "upgrade": WorkflowMachine._op_upgrade,
    "set_query": WorkflowMachine._op_set_query,
}


def answer_query(workflow_id: str, queries: dict[str, JSONValue], name: str) -> tuple[bool, JSONValue]:
    """Both engines answer queries with this (spec §7.5 plus ``workflow.set_query``)."""
    if name == "pid":
        return True, workflow_id
    if name in queries:
        return True, queries[name]
    if name == "state":
        return True, {}
    return False, None


@dataclass(slots=True)
class FutureResult:
    """A successful async result travelling to a future's channel."""

    value: JSONValue


def future_value(data: Any) -> tuple[bool, Any]:
    """(ok, value-or-failure) of a future delivery."""
    if isinstance(data, FutureResult):
        return True, data.value
    return False, data


def _check_function_id(target: Any, what: str = "function") -> Failure | None:
    if not isinstance(target, str) or not target:
        return invalid(f"{what} ID required")
    ns, sep, name = target.partition(":")
    if not sep or not ns:
        return invalid(f"namespace required in {what} ID")
    if not name:
        return invalid(f"name required in {what} ID")
    return None


def _search_type(value: Any) -> str | None:
    if isinstance(value, bool):
        return "Bool"
    if isinstance(value, int):
        return "Int"
    if isinstance(value, float):
        return "Int" if value.is_integer() else "Double"
    if isinstance(value, str):
        return "Keyword"
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "KeywordList"
    return None


search_attribute_type = _search_type
