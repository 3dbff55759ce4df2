"""The one process model: a running Lua program with a PID and a mailbox.

A function call and a ``process.lua`` process on a host are both a :class:`Proc`; so is the
caller of a workflow (a function or process that spawns, signals, monitors or execs one). The
blocking calls of its Lua code (``process.*``, ``funcs.*``, ``time.*``, module host ops) come
here as *ops* from the core scheduler; what differs between a call and a host process is only
how it is driven (:meth:`Proc._kick`, :meth:`Proc._soon`, :meth:`Proc._later`) and what
happens to its Lua state at the end (:meth:`Proc._release`).

Local targets (function calls and host processes of this runtime) are reached through the
node (:mod:`.node`); workflow targets through the engine (:class:`~duralua.engine.Engine`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..codec import JSONValue, encode
from ..core.machine import FutureResult
from ..core.options import OptionError, parse_workflow_options
from ..core.pid import parse_pid
from ..core.scheduler import PENDING, YIELD, Deadlock, Delivery, ProcessFailed, Scheduler
from ..engine import Engine, StartRequest
from ..errors import INTERNAL, INVALID, BudgetExceeded, CallError, EncodeError, Failure, LuaError, MemoryLimitExceeded
from ..errors import invalid as invalid_failure
from ..lua.convert import loads_exported
from ..lua.modules._ops import MODULE_OPS

if TYPE_CHECKING:
    from .functions import FunctionRuntime

# The fake op a paused coroutine "yields" (never a name Lua can send: ops are identifiers).
PAUSE = "@pause"
#: Coroutine resumes in one slice of a process's step; then it gives the event loop a turn,
#: so a process that loops on channel operations or messages cannot pin the runtime.
SLICE = 1000
#: Unread messages a mailbox holds; a send beyond it fails (the sender sees why).
MAILBOX_LIMIT = 50_000

EXIT = "pid.exit"
LINK_DOWN = "pid.link.down"
CANCEL = "pid.cancel"
LINKED_FAILED = "linked process failed"


def terminated() -> Failure:
    return Failure("process terminated", INTERNAL, None)


class ProcVM:
    """The scheduler's view of a process's Lua state: slices its steps, switches the tenant of a
    shared state, and stops running Lua code at once for a process that must die."""

    __slots__ = ("__weakref__", "proc", "steps", "tenant", "vm")

    def __init__(self, proc: Proc, vm: Any, tenant: Any = None) -> None:
        self.proc = proc
        self.vm = vm
        self.tenant = tenant
        self.steps = 0

    def _enter(self, lua: bool = True) -> None:
        if self.tenant is not None and self.vm.current is not self:
            self.vm.switch(self.tenant, self, self.proc, self.proc._sched, lua=lua)

    def resume(self, coro: int, args: tuple[Any, ...]) -> tuple[Any, ...]:
        if self.proc._doomed is not None or self.steps >= SLICE:
            return (YIELD, PAUSE, *args)
        self.steps += 1
        self._enter(lua=False)
        out: tuple[Any, ...] = self.vm.resume(coro, args, self.tenant)
        return out

    def materialize(self, delivery: Delivery, as_message: bool) -> int:
        self._enter(lua=False)
        return int(self.vm.materialize(delivery, as_message, self.tenant))

    def release(self, handle: int) -> None:
        self._enter(lua=False)
        self.vm.release(handle, self.tenant)


class Proc:
    """A running program with a PID: its ops, its mailbox and its relationships."""

    # Slots, and sets made on first use: ten thousand idle processes are a few KB each.
    __slots__ = ("__weakref__", "_doomed", "_exit_waiters", "_paused", "_running", "_sched", "_tasks",
                 "_timer_set", "_view", "_watched", "context", "entry_id", "event_topics", "failure", "finished",
                 "links", "monitors", "pid", "result", "rt", "terminal", "trap_links", "values")  # fmt: skip

    def __init__(self, rt: FunctionRuntime, pid: str, entry_id: str, context: dict[str, Any],
                 values: Mapping[str, Any] | None = None) -> None:  # fmt: skip
        self.rt = rt
        self.pid = pid
        self.entry_id = entry_id
        self.context = context
        self.values: Mapping[str, Any] = values or {}
        self.finished = False
        self.result: JSONValue = None
        self.failure: Failure | None = None
        self.trap_links = False
        self.monitors: set[str] = set()  # who gets EXIT when this ends
        self.links: set[str] = set()
        self.terminal: Any = None  # set for a command on a terminal host (io module)
        self._sched: Scheduler | None = None
        self._view: ProcVM | None = None
        self._tasks: set[asyncio.Task[Any]] | None = None
        self._timer_set: set[str] | None = None
        self._watched: dict[str, set[str]] | None = None  # workflow pid -> {"m", "l"} (one watch each)
        self._running = False
        self._doomed: Failure | None = None
        self._paused: list[tuple[int, tuple[Any, ...]]] = []
        self._exit_waiters: list[Callable[[Proc], None]] = []
        self.event_topics: list[str] = []  # events-module subscriptions (dropped at exit)

    # -- how it is driven (subclasses) ----------------------------------------------------------

    def _kick(self) -> None:
        """Something happened (a message, an answer): run the process again soon."""
        raise NotImplementedError

    def _later(self, make: Callable[[], Awaitable[None]]) -> None:
        """Run async work (started at once if a loop drives this process, else when one does)."""
        raise NotImplementedError

    def _soon(self, fn: Callable[[], None]) -> None:
        """Call ``fn`` on the loop that drives this process, after the current step."""

        async def call() -> None:
            fn()

        self._later(call)

    def _release(self, reusable: bool) -> None:
        """The process ended: give its Lua state back."""

    # -- running --------------------------------------------------------------------------------

    def _run(self) -> None:
        sched, view = self._sched, self._view
        if self.finished or sched is None or view is None:
            return
        view.steps = 0
        self._running = True
        try:
            sched.run()
        except ProcessFailed as exc:
            self._running = False
            self._fail(view.vm.failure_of(exc.error))
            return
        except Deadlock:
            self._running = False
            self._fail(Failure("deadlock: all coroutines blocked with no pending operations", INTERNAL, None))
            return
        except (BudgetExceeded, MemoryLimitExceeded) as exc:
            self._running = False
            self._fail(Failure(str(exc), INTERNAL, False), reusable=False)
            return
        except LuaError as exc:
            self._running = False
            self._fail(Failure(str(exc), INTERNAL, None))
            return
        except Exception as exc:  # a host bug: this process fails, not its host
            self._running = False
            self._fail(Failure(f"internal error running {self.entry_id}: {type(exc).__name__}: {exc}", INTERNAL,
                               None), reusable=False)  # fmt: skip
            return
        self._running = False
        if self._doomed is not None:
            self._fail(self._doomed)
            return
        if sched.done:
            try:
                value, failure = view.vm.result_of(sched.result)
            except Exception as exc:
                self._fail(Failure(f"failed to encode result: {exc}", INTERNAL, False))
                return
            if failure is not None:
                self._fail(failure)
            else:
                self._succeed(value)

    def _succeed(self, value: JSONValue) -> None:
        self.result = value
        self._close()

    def _fail(self, failure: Failure, reusable: bool = True) -> None:
        self.failure = failure
        self._close(reusable)

    def _close(self, reusable: bool = True) -> None:
        if self.finished:
            return
        self.finished = True
        self._timer_set = None
        for task in self._tasks or ():
            task.cancel()
        self._release(reusable)
        self._sched = None
        self._view = None
        self.rt.exited(self)
        waiters, self._exit_waiters = self._exit_waiters, []
        for fn in waiters:
            fn(self)

    def on_exit(self, fn: Callable[[Proc], None]) -> None:
        """Call ``fn(proc)`` when this process has ended (at once if it has)."""
        if self.finished:
            fn(self)
        else:
            self._exit_waiters.append(fn)

    def doom(self, failure: Failure) -> None:
        """End the process with ``failure`` at its next scheduling point; no more of its Lua
        code runs (terminate, an untrapped LINK_DOWN)."""
        if self.finished or self._doomed is not None:
            return
        self._doomed = failure
        if not self._running:
            self._fail(failure)

    def set_trap_links(self, on: bool) -> None:
        self.trap_links = on

    def deliver(self, delivery: Delivery) -> Failure | None:
        """A message or event for this process; a failure if it cannot take it."""
        if self.finished or self._sched is None:
            return None
        topic = delivery.topic
        if topic == "@events" and not self.trap_links and isinstance(delivery.data, dict) \
                and delivery.data.get("kind") == LINK_DOWN:  # fmt: skip
            # Consumed: it never shows on process.events(); the process stops (spec §8.2).
            self.doom(Failure(LINKED_FAILED, "", None))
            return None
        limit = self.rt.mailbox_limit
        if (delivery.kind == "message" or topic.startswith("@events/")) and self._sched.pending_messages() >= limit:
            return Failure(f"mailbox of {self.pid} is full ({limit} unread messages)", "LimitExceeded", True)
        self._sched.deliver(delivery)
        self._kick()
        return None

    def _resolve(self, coro: int, values: tuple[Any, ...]) -> None:
        if self.finished or self._sched is None:
            return
        self._sched.resolve(coro, values)
        self._kick()

    @property
    def _timer_topics(self) -> set[str]:
        if self._timer_set is None:
            self._timer_set = set()
        return self._timer_set

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        if self._tasks is None:
            self._tasks = set()
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_loop(self) -> bool:
        """True when this op runs on the thread of the runtime's loop (a call started on a worker
        thread, e.g. a Temporal activity, touches shared state only from its loop)."""
        return self.rt.loop_ident == threading.get_ident()

    def _local(self, coro: int, answer: Callable[[], tuple[Any, ...]]) -> Any:
        """Answer an op that touches the node (other processes, names, hosts) now if safe."""
        if self._on_loop():
            return answer()

        async def later() -> None:
            values = answer()
            if values is not PENDING:  # else the answer itself comes later (a workflow signal)
                self._resolve(coro, values)

        self._later(later)
        return PENDING

    def _resume_paused(self) -> None:
        paused, self._paused = self._paused, []
        if self.finished or self._sched is None:
            return
        for coro, args in paused:
            self._sched.resolve(coro, args)
        self._kick()

    # -- operations ----------------------------------------------------------------------------

    def _on_op(self, coro: int, op: str, args: tuple[Any, ...]) -> Any:
        if op == PAUSE:
            if self._doomed is None:
                if not self._paused:
                    self._soon(self._resume_paused)
                self._paused.append((coro, args))
            return PENDING
        handler = getattr(self, f"_op_{op}", None)
        if handler is None:
            module_op = MODULE_OPS.get(op)
            if module_op is not None:
                return self._module_op(coro, op, module_op, args)
            return (None, invalid_failure(f"{op} is not supported here"))
        return handler(coro, *args)

    def _module_op(self, coro: int, name: str, op: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        """An op a module registered (lua/modules/_ops.py): its answer now, or later."""
        try:
            answer = op(self, *args)
        except Exception as exc:  # a module bug fails the op, not the call's host
            return (None, Failure(f"{name}: {type(exc).__name__}: {exc}", INTERNAL, None))
        if not callable(answer):
            return answer
        later: Callable[[], Awaitable[Any]] = answer  # started only once a loop drives the call

        async def finish() -> None:
            try:
                values = await later()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                values = (None, Failure(f"{name}: {type(exc).__name__}: {exc}", INTERNAL, None))
            self._resolve(coro, tuple(values))

        self._later(finish)
        return PENDING

    # funcs.* ----------------------------------------------------------------------------------

    def _call_context(self, ctx: Any) -> dict[str, Any]:
        context = dict(self.context)
        if isinstance(ctx, dict):
            context.update(ctx)
        return context

    def _op_call(self, coro: int, target: str, args: list[JSONValue], _opts: Any, ctx: Any) -> Any:
        try:
            inner = self.rt._begin(target, args, self._call_context(ctx))
        except CallError as exc:
            return (None, exc.failure)
        if inner.finished:
            return (inner.result, inner.failure)

        async def finish() -> None:
            await inner.wait()
            self._resolve(coro, (inner.result, inner.failure))

        self._later(finish)
        return PENDING

    def _op_async(self, coro: int, target: str, args: list[JSONValue], _opts: Any, ctx: Any) -> Any:
        topic = f"@future/{self.rt.next_uniq()}"

        def publish(inner: Any) -> None:
            data: Any = inner.failure if inner.failure else FutureResult(inner.result)
            self.deliver(Delivery(topic, "", [], kind="future", data=data))

        try:
            inner = self.rt._begin(target, args, self._call_context(ctx))
        except CallError as exc:
            return (None, None, exc.failure)
        if inner.finished:
            publish(inner)
        else:

            async def finish() -> None:
                await inner.wait()
                publish(inner)

            self._later(finish)
        return (0, topic, None)

    def _op_future_cancel(self, coro: int, _seq: Any) -> Any:
        return (True, None)

    # time.* -----------------------------------------------------------------------------------

    def _op_sleep(self, coro: int, ns: int) -> Any:
        if ns < 0:
            return (None, invalid_failure("duration must not be negative"))
        if ns == 0:
            return (True, None)

        async def nap() -> None:
            await self.rt.sleep_ns(ns)
            self._resolve(coro, (True, None))

        self._later(nap)
        return PENDING

    def _op_timer(self, coro: int, ns: int, kind: str, topic: str) -> Any:
        async def fire() -> None:
            while True:
                await self.rt.sleep_ns(ns)
                if topic not in self._timer_topics:
                    return
                self.deliver(Delivery(topic, "", [], kind="time", data=self.rt.clock_ns()))
                if kind != "ticker":
                    self._timer_topics.discard(topic)
                    return

        self._timer_topics.add(topic)
        self._later(fire)
        return (True, None)

    def _op_timer_stop(self, coro: int, topic: str) -> Any:
        active = topic in self._timer_topics
        self._timer_topics.discard(topic)
        return (active, None)

    # process.* --------------------------------------------------------------------------------

    def _engine(self) -> Engine | None:
        return self.rt.engine

    def _op_spawn(
        self, coro: int, target: Any, host: Any, args: list[JSONValue], opts: Any, flags: Any, ctx: Any,
        name: Any = None, msgs: Any = None, wait: bool = False,
    ) -> Any:  # fmt: skip
        if not isinstance(target, str) or ":" not in target:
            return (None, invalid_failure("entry id of the form namespace:name required"))
        if not isinstance(host, str) or not host:
            return (None, invalid_failure("host ID required"))
        flags = str(flags or "")
        messages = [(str(t), list(p)) for t, p in (msgs or []) if isinstance(p, list)]
        if host in self.rt.hosts:
            context = self._call_context(ctx)
            return self._local(coro, lambda: self._spawn_local(coro, target, host, list(args), context, flags,
                                                              name, messages, wait))  # fmt: skip
        engine = self._engine()
        if engine is None or host not in self.rt.worker_ids:
            return (None, Failure(f"host not found: {host} (not a process.host or temporal.worker of this app)",
                                  "NotFound", False))  # fmt: skip
        try:
            options = parse_workflow_options(opts if isinstance(opts, dict) else {})
        except OptionError as exc:
            return (None, invalid_failure(str(exc)))
        req = StartRequest(
            workflow_type=target,
            worker_id=host,
            args=list(args),
            options=options,
            context=self._call_context(ctx),
            workflow_id=options.pop("id", None) or (name if isinstance(name, str) else None),
            messages=messages,
            sender=self.pid,
        )

        async def start() -> None:
            try:
                pid = await engine.start_workflow(req)
            except CallError as exc:
                self._resolve(coro, (None, exc.failure))
                return
            if not wait:
                for kind in ("m", "l"):
                    if kind in flags:
                        self._watch(pid, kind)
                self._resolve(coro, (pid, None))
                return
            value, failure = await engine.result(pid)
            self._resolve(coro, (value, failure))

        self._later(start)
        return PENDING

    def _spawn_local(self, coro: int, target: str, host: str, args: list[JSONValue], context: dict[str, Any],
                     flags: str, name: Any, msgs: list[tuple[str, list[JSONValue]]], wait: bool) -> Any:  # fmt: skip
        child, failure = self.rt.hosts[host].spawn(
            target, args, context, parent=self.pid, monitor="m" in flags and not wait, link="l" in flags,
            name=name if isinstance(name, str) else None, messages=msgs,
        )  # fmt: skip
        if failure is not None or child is None:
            return (None, failure)
        if not wait:
            return (child.pid, None)
        if not hasattr(child, "on_exit"):
            return (None, Failure(f"exec: {child.pid} (registered as {name}) is not a process of this host",
                                  INTERNAL, False))  # fmt: skip
        child.on_exit(lambda c: self._resolve(coro, (c.result, c.failure) if c.failure is None else (None, c.failure)))
        return PENDING

    def _op_exec(self, coro: int, target: Any, host: Any, args: list[JSONValue], opts: Any, flags: Any,
                 ctx: Any, name: Any = None, msgs: Any = None) -> Any:  # fmt: skip
        return self._op_spawn(coro, target, host, args, opts, flags, ctx, name, msgs, wait=True)

    def _watch(self, pid: str, kind: str) -> None:
        """Monitor ("m") or link ("l") a workflow: its outcome becomes EXIT / LINK_DOWN (in that
        order for one exit, as for processes)."""
        if self._watched is None:
            self._watched = {}
        kinds = self._watched.get(pid)
        if kinds is not None:
            kinds.add(kind)
            return
        self._watched[pid] = {kind}
        self._later(lambda: self._await_workflow(pid))

    async def _await_workflow(self, pid: str) -> None:
        engine = self._engine()
        assert engine is not None
        value, failure = await engine.result(pid)
        kinds = self._watched.pop(pid, set()) if self._watched is not None else set()
        at = self.rt.clock_ns() // 1_000_000_000
        result = {"value": value if failure is None else None, "error": failure}
        for kind, event in (("m", EXIT), ("l", LINK_DOWN)):
            if kind in kinds and (kind == "m" or failure is not None):  # a normal exit only drops a link
                self.deliver(Delivery("@events", pid, [], kind="event",
                                      data={"kind": event, "from": pid, "at": at, "result": result}))  # fmt: skip

    def _resolve_dest(self, dest: Any) -> tuple[str | None, Failure | None]:
        """A PID string, or the PID a local name stands for."""
        if isinstance(dest, str):
            if parse_pid(dest) is not None:
                return dest, None
            found = self.rt.names.lookup(dest)
            if found is not None:
                return found, None
        return None, Failure(f"could not resolve '{dest}' as PID or registered name", "NotFound", False)

    def _op_psend(self, coro: int, dest: Any, topic: Any, payloads: list[JSONValue]) -> Any:
        if not isinstance(topic, str) or not topic:
            return (None, invalid_failure("topic required"))
        if topic.startswith("@"):
            return (None, invalid_failure("cannot send to @ topics"))
        try:
            encode(payloads, path="payload")
        except EncodeError as exc:
            return (None, Failure(f"cannot encode message: {exc}", INVALID, False))
        if not self._on_loop():
            return self._local(coro, lambda: self._send_now(coro, dest, topic, payloads))
        return self._send_now(coro, dest, topic, payloads)

    def send_now(self, text: str) -> Any:
        """``process.send`` from Lua without a yield (lua/process_module.lua): ``True``, the
        error as ``kind, message, retryable``, or ``False`` when the op must do it (a workflow
        target, a call running off the runtime's thread)."""
        if not self._on_loop():
            return False
        dest, topic, payloads = loads_exported(text)
        return self.send_values(dest, topic, payloads)

    def send_values(self, dest: Any, topic: Any, payloads: Any) -> Any:
        """:meth:`send_now` with the arguments decoded (plain values come so from Lua)."""
        if not self._on_loop():
            return False
        if not isinstance(topic, str) or not topic or topic.startswith("@") or not isinstance(payloads, list):
            return False  # the op reports it
        pid = dest if isinstance(dest, str) and dest in self.rt.procs else None
        if pid is None:
            pid, failure = self._resolve_dest(dest)
            if pid is None:
                assert failure is not None
                return failure.kind, failure.message, failure.retryable
            engine = self._engine()
            if engine is not None and engine.owns(pid):
                return False
        failure = self.rt.route(pid, Delivery(topic, self.pid, payloads))
        if failure is None:
            return True
        return failure.kind, failure.message, failure.retryable

    def _send_now(self, coro: int, dest: Any, topic: str, payloads: list[JSONValue]) -> Any:
        pid, failure = self._resolve_dest(dest)
        if pid is None:
            return (None, failure)
        engine = self._engine()
        if engine is not None and engine.owns(pid):

            async def signal() -> None:
                try:
                    await engine.signal(pid, topic, payloads, self.pid)
                except CallError as exc:
                    self._resolve(coro, (None, exc.failure))
                    return
                self._resolve(coro, (True, None))

            self._later(signal)
            return PENDING
        failure = self.rt.route(pid, Delivery(topic, self.pid, list(payloads)))
        return (None, failure) if failure is not None else (True, None)

    def _workflow_control(self, coro: int, pid: str, action: str) -> Any:
        engine = self._engine()
        assert engine is not None
        if action in ("monitor", "link"):
            self._watch(pid, "m" if action == "monitor" else "l")
            return (True, None)
        if action in ("unmonitor", "unlink"):
            if self._watched is not None:
                self._watched.get(pid, set()).discard("m" if action == "unmonitor" else "l")
            return (True, None)

        async def run() -> None:
            try:
                if action == "terminate":
                    await engine.terminate(pid, "process.terminate")
                else:
                    await engine.cancel(pid)
            except CallError as exc:
                self._resolve(coro, (None, exc.failure))
                return
            self._resolve(coro, (True, None))

        self._later(run)
        return PENDING

    def _control(self, coro: int, dest: Any, action: str, reason: Any = None) -> Any:
        pid, failure = self._resolve_dest(dest)
        if pid is None:
            return (None, failure)
        engine = self._engine()
        if engine is not None and engine.owns(pid):
            return self._workflow_control(coro, pid, action)
        return self._local(coro, lambda: self.rt.control(self, pid, action, reason))

    def _op_terminate(self, coro: int, dest: Any, *_r: Any) -> Any:
        return self._control(coro, dest, "terminate")

    def _op_cancel(self, coro: int, dest: Any, reason: Any = None, *_r: Any) -> Any:
        return self._control(coro, dest, "cancel", reason)

    def _op_monitor(self, coro: int, dest: Any, *_r: Any) -> Any:
        return self._control(coro, dest, "monitor")

    def _op_unmonitor(self, coro: int, dest: Any, *_r: Any) -> Any:
        return self._control(coro, dest, "unmonitor")

    def _op_link(self, coro: int, dest: Any, *_r: Any) -> Any:
        return self._control(coro, dest, "link")

    def _op_unlink(self, coro: int, dest: Any, *_r: Any) -> Any:
        return self._control(coro, dest, "unlink")

    def _op_registry_register(self, coro: int, name: Any, pid: Any = None, scope: Any = None, *_r: Any) -> Any:
        def answer() -> tuple[Any, ...]:
            failure = self.rt.names.register(name, self.pid if pid is None else pid, scope)
            return (None, failure) if failure is not None else (True, None)

        return self._local(coro, answer)

    def _op_registry_lookup(self, coro: int, name: Any = None, *_r: Any) -> Any:
        return self._local(coro, lambda: self.rt.names.lookup_or_error(name))

    def _op_registry_unregister(self, coro: int, name: Any = None, *_r: Any) -> Any:
        return self._local(coro, lambda: (self.rt.names.unregister(name), None))

    # workflow.* outside a workflow (spec lua-modules.md §8) ------------------------------------

    def _op_info(self, coro: int) -> Any:
        return (None, None)

    def _op_version(self, coro: int, _cid: Any, lo: Any, hi: Any) -> Any:
        if isinstance(lo, int) and isinstance(hi, int) and lo > hi:
            return (None, invalid_failure("min version must not be greater than max version"))
        return (hi, None)

    def _op_attrs(self, coro: int, *_a: Any) -> Any:
        return (None, invalid_failure("workflow.attrs is only available inside a workflow"))

    def _op_history_length(self, coro: int) -> Any:
        return (0, None)

    def _op_history_size(self, coro: int) -> Any:
        return (0, None)

    def _op_wexec(self, coro: int, *_a: Any) -> Any:
        return (None, invalid_failure("workflow.exec outside workflow context not yet supported"))

    def _op_upgrade(self, coro: int, *_a: Any) -> Any:
        return (None, invalid_failure("process.upgrade is only supported inside workflows"))
