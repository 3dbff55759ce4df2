"""Running ordinary (non-durable) code: function entries, in Lua or Python.

A function call is a short-lived process with its own PID and scheduler. The fast path
runs it to completion synchronously (a trivial call never touches asyncio); when it blocks
on something external (a real sleep, a workflow start, a nested call that blocks) the
runtime continues it on the asyncio loop. The same code runs activities for the embedded
engine.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..codec import JSONValue, encode
from ..core.machine import FutureResult
from ..core.options import OptionError, parse_workflow_options
from ..core.pid import PID, format_uniq, parse_pid
from ..core.scheduler import PENDING, Deadlock, Delivery, ProcessFailed, Scheduler
from ..engine import Engine, StartRequest
from ..errors import (
    INTERNAL,
    INVALID,
    BudgetExceeded,
    CallError,
    DuraluaError,
    EncodeError,
    Failure,
    LuaError,
    MemoryLimitExceeded,
    invalid,
    not_found,
)
from ..lua.context import SystemContext
from ..lua.modules._ops import MODULE_OPS
from ..lua.process import EntryCode, LuaVM

PythonFunction = Callable[..., Any]
Logger = Callable[[str, str], None]


@dataclass
class FunctionDef:
    """A callable entry: Lua code, or a Python callable registered through the API."""

    entry_id: str
    code: EntryCode | None = None
    python: PythonFunction | None = None
    options: dict[str, Any] = field(default_factory=dict)  # meta.options


class _Pool:
    """Idle Lua states of one entry (a state is reused by one call at a time)."""

    def __init__(self, size: int = 16) -> None:
        self.idle: deque[LuaVM] = deque()
        self.size = size


class FunctionRuntime:
    """Calls function entries; the op handler for their blocking calls."""

    def __init__(
        self,
        *,
        node: str = "local",
        log: Logger | None = None,
        memory_limit: int | None = None,
        instruction_budget: int | None = None,
    ) -> None:
        self.node = node
        self.functions: dict[str, FunctionDef] = {}
        self.engine: Engine | None = None
        self.worker_ids: set[str] = set()
        self._log = log
        self._limits = (memory_limit, instruction_budget)
        self._pools: dict[str, _Pool] = {}
        self._uniq = itertools.count(1)
        self._ctx = _RuntimeContext(self)
        self._live: dict[str, _Call] = {}
        # An engine with a virtual clock replaces these so functions share its time.
        self.clock_ns: Callable[[], int] = time.time_ns
        self.sleep_ns: Callable[[int], Awaitable[None]] = _real_sleep

    # -- registration --------------------------------------------------------------------------

    def add(self, fn: FunctionDef) -> None:
        self.functions[fn.entry_id] = fn

    def new_pid(self, host: str) -> str:
        return str(PID(self.node, host, format_uniq(next(self._uniq))))

    # -- calling -------------------------------------------------------------------------------

    def call(self, entry_id: str, args: list[JSONValue], context: dict[str, Any] | None = None) -> JSONValue:
        """Synchronous call from Python; raises CallError on failure."""
        call = self._begin(entry_id, args, context or {})
        if not call.finished:
            call.finish_async_needed = True
            loop = asyncio.new_event_loop()
            try:
                loop.run_until_complete(call.wait())
            finally:
                loop.close()
        return call.outcome()

    async def acall(self, entry_id: str, args: list[JSONValue], context: dict[str, Any] | None = None) -> JSONValue:
        call = self._begin(entry_id, args, context or {})
        if not call.finished:
            await call.wait()
        return call.outcome()

    async def invoke(
        self, entry_id: str, args: list[JSONValue], context: dict[str, Any] | None = None
    ) -> tuple[JSONValue, Failure | None]:
        """Call and return (value, failure) instead of raising (used for activities)."""
        try:
            return await self.acall(entry_id, args, context), None
        except CallError as exc:
            return None, exc.failure

    def start_call(
        self,
        entry_id: str,
        args: list[JSONValue],
        context: dict[str, Any] | None = None,
        *,
        values: Mapping[str, Any] | None = None,
    ) -> _Call:
        """Start a call and run it as far as it goes synchronously (``.finished`` tells).

        ``values`` are host values of this call only (the HTTP exchange of a handler): module
        ops see them, the calls and spawns it makes do not inherit them.
        """
        return self._begin(entry_id, args, context or {}, values)

    async def finish_call(self, call: _Call) -> tuple[JSONValue, Failure | None]:
        """Wait for a call from :meth:`start_call` that did not finish synchronously."""
        if not call.finished:
            await call.wait()
        return call.result, call.failure

    def _begin(
        self, entry_id: str, args: list[JSONValue], context: dict[str, Any], values: Mapping[str, Any] | None = None
    ) -> _Call:
        fn = self.functions.get(entry_id)
        if fn is None:
            raise CallError(not_found(f"function {entry_id} not found", retryable=True))
        call = _Call(self, fn, args, context, values)
        call.start()
        return call

    def acquire(self, fn: FunctionDef, owner: _Call) -> LuaVM:
        pool = self._pools.setdefault(fn.entry_id, _Pool())
        if pool.idle:
            vm = pool.idle.pop()
            vm.owner = owner
            return vm
        assert fn.code is not None
        return LuaVM(
            fn.code,
            self._ctx,
            owner,
            log=self._log,
            memory_limit=self._limits[0],
            instruction_budget=self._limits[1],
        )

    def keep_idle(self, entry_id: str, states: int) -> None:
        """Keep up to ``states`` idle Lua states of ``entry_id`` between calls (default 16).

        For entries called concurrently (HTTP handlers): under load they would otherwise build
        a new Lua state for every call beyond the pool and drop it after.
        """
        pool = self._pools.setdefault(entry_id, _Pool())
        pool.size = max(pool.size, states)

    def release(self, fn: FunctionDef, vm: LuaVM, reusable: bool) -> None:
        pool = self._pools.setdefault(fn.entry_id, _Pool())
        if reusable and not vm.poisoned and len(pool.idle) < pool.size:
            vm.reset()
            pool.idle.append(vm)

    def deliver(self, pid: str, delivery: Delivery) -> bool:
        call = self._live.get(pid)
        if call is None:
            return False
        call.deliver(delivery)
        return True


async def _real_sleep(ns: int) -> None:
    await asyncio.sleep(ns / 1e9)


class _RuntimeContext(SystemContext):
    """The OS context, but with the runtime's clock (virtual in tests)."""

    def __init__(self, rt: FunctionRuntime) -> None:
        super().__init__()
        self._rt = rt

    def now_ns(self) -> int:
        return self._rt.clock_ns()


class _Call:
    """One function invocation (a process with a PID, alive until the function returns)."""

    def __init__(
        self,
        rt: FunctionRuntime,
        fn: FunctionDef,
        args: list[JSONValue],
        context: dict[str, Any],
        values: Mapping[str, Any] | None = None,
    ) -> None:
        self.rt = rt
        self.fn = fn
        self.args = args
        self.context = context
        self.values: Mapping[str, Any] = values or {}
        self.pid = rt.new_pid(fn.entry_id)
        self.finished = False
        self.result: JSONValue = None
        self.failure: Failure | None = None
        self.finish_async_needed = False
        self._vm: LuaVM | None = None
        self._sched: Scheduler | None = None
        self._wake: asyncio.Event | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._deferred: list[Callable[[], Awaitable[None]]] = []
        self._py_task: Awaitable[Any] | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        if self.fn.python is not None:
            self._start_python()
            return
        try:
            vm = self.rt.acquire(self.fn, self)
        except DuraluaError as exc:
            self._fail(Failure(str(exc), INTERNAL, False))
            return
        except Exception as exc:  # whatever loading the entry did, this call fails, not its host
            self._fail(Failure(f"{self.fn.entry_id} could not be loaded: {type(exc).__name__}: {exc}", INTERNAL, False))
            return
        self._vm = vm
        sched = Scheduler(vm, self._on_op)
        vm.scheduler = sched
        self._sched = sched
        self.rt._live[self.pid] = self
        try:
            vm.start(self.args)
        except EncodeError as exc:
            self._fail(Failure(str(exc), INVALID, False))
            return
        except Exception as exc:
            self._fail(Failure(f"{self.fn.entry_id} could not start: {type(exc).__name__}: {exc}", INTERNAL, False),
                       reusable=False)  # fmt: skip
            return
        self._run()

    def _start_python(self) -> None:
        fn = self.fn.python
        assert fn is not None
        try:
            value = fn(*self.args)
        except CallError as exc:
            self._fail(exc.failure)
            return
        except Exception as exc:  # a user function's bug becomes an Internal error
            self._fail(Failure(f"{type(exc).__name__}: {exc}", INTERNAL, None))
            return
        if inspect.isawaitable(value):
            self._py_task = value
            return
        self._succeed(value)

    def _run(self) -> None:
        sched = self._sched
        assert sched is not None and self._vm is not None
        try:
            sched.run()
        except ProcessFailed as exc:
            self._fail(self._vm.failure_of(exc.error))
            return
        except Deadlock as exc:
            self._fail(Failure(str(exc), INTERNAL, None))
            return
        except (BudgetExceeded, MemoryLimitExceeded) as exc:
            self._fail(Failure(str(exc), INTERNAL, False), reusable=False)
            return
        except LuaError as exc:
            self._fail(Failure(str(exc), INTERNAL, None))
            return
        except Exception as exc:  # a host bug: this attempt fails (its retry policy applies), not the host
            self._fail(Failure(f"internal error running {self.fn.entry_id}: {type(exc).__name__}: {exc}", INTERNAL,
                               None), reusable=False)  # fmt: skip
            return
        if sched.done:
            try:
                value, failure = self._vm.result_of(sched.result)
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
        self.finished = True
        self.rt._live.pop(self.pid, None)
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        for task in self._tasks:
            task.cancel()
        if self._vm is not None:
            self.rt.release(self.fn, self._vm, reusable)
            self._vm = None
        if self._wake is not None:
            self._wake.set()

    async def wait(self) -> None:
        if self._py_task is not None:
            try:
                self._succeed(await self._py_task)
            except CallError as exc:
                self._fail(exc.failure)
            except Exception as exc:
                self._fail(Failure(f"{type(exc).__name__}: {exc}", INTERNAL, None))
            return
        self._wake = asyncio.Event()
        for start in self._deferred:
            self._spawn(start())
        self._deferred.clear()
        while not self.finished:
            await self._wake.wait()
            self._wake.clear()
            if not self.finished:
                self._run()

    def outcome(self) -> JSONValue:
        if self.failure is not None:
            raise CallError(self.failure)
        return self.result

    # -- async plumbing ------------------------------------------------------------------------

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _later(self, make: Callable[[], Awaitable[None]]) -> None:
        """Run async work now if a loop drives this call, else when wait() starts."""
        if self._wake is None:
            self._deferred.append(make)
        else:
            self._spawn(make())

    def _resolve(self, coro: int, values: tuple[Any, ...]) -> None:
        if self.finished or self._sched is None:
            return
        self._sched.resolve(coro, values)
        if self._wake is not None:
            self._wake.set()

    def deliver(self, delivery: Delivery) -> None:
        if self.finished or self._sched is None:
            return
        self._sched.deliver(delivery)
        if self._wake is not None:
            self._wake.set()

    # -- operations ----------------------------------------------------------------------------

    def _on_op(self, coro: int, op: str, args: tuple[Any, ...]) -> Any:
        handler = getattr(self, f"_op_{op}", None)
        if handler is None:
            module_op = MODULE_OPS.get(op)
            if module_op is not None:
                return self._module_op(coro, op, module_op, args)
            return (None, invalid(f"{op} is not supported here"))
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

    def _op_call(self, coro: int, target: str, args: list[JSONValue], _opts: Any, ctx: Any) -> Any:
        context = dict(self.context)
        if isinstance(ctx, dict):
            context.update(ctx)
        try:
            inner = self.rt._begin(target, args, context)
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
        topic = f"@future/{next(self.rt._uniq)}"
        context = dict(self.context)
        if isinstance(ctx, dict):
            context.update(ctx)

        def publish(inner: _Call) -> None:
            data: Any = inner.failure if inner.failure else FutureResult(inner.result)
            self.deliver(Delivery(topic, "", [], kind="future", data=data))

        try:
            inner = self.rt._begin(target, args, context)
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

    def _op_sleep(self, coro: int, ns: int) -> Any:
        if ns < 0:
            return (None, invalid("duration must not be negative"))
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

    @property
    def _timer_topics(self) -> set[str]:
        topics: set[str] | None = getattr(self, "_tt", None)
        if topics is None:
            topics = set()
            self._tt = topics
        return topics

    def _op_timer_stop(self, coro: int, topic: str) -> Any:
        active = topic in self._timer_topics
        self._timer_topics.discard(topic)
        return (active, None)

    # process.* towards workflows --------------------------------------------------------------

    def _engine(self) -> Engine | None:
        return self.rt.engine

    def _op_spawn(
        self, coro: int, target: Any, host: Any, args: list[JSONValue], opts: Any, flags: Any, ctx: Any,
        name: Any = None, msgs: Any = None, wait: bool = False,
    ) -> Any:  # fmt: skip
        engine = self._engine()
        if not isinstance(target, str) or ":" not in target:
            return (None, invalid("entry id of the form namespace:name required"))
        if not isinstance(host, str) or not host:
            return (None, invalid("host ID required"))
        if engine is None or host not in self.rt.worker_ids:
            return (None, Failure(f"host not found: {host} (only temporal.worker hosts can run spawns here)",
                                  "NotFound", False))  # fmt: skip
        try:
            options = parse_workflow_options(opts if isinstance(opts, dict) else {})
        except OptionError as exc:
            return (None, invalid(str(exc)))
        context = dict(self.context)
        if isinstance(ctx, dict):
            context.update(ctx)
        req = StartRequest(
            workflow_type=target,
            worker_id=host,
            args=list(args),
            options=options,
            context=context,
            workflow_id=options.pop("id", None) or (name if isinstance(name, str) else None),
            messages=[(t, list(p)) for t, p in (msgs or [])],
            sender=self.pid,
        )

        async def start() -> None:
            try:
                pid = await engine.start_workflow(req)
            except CallError as exc:
                self._resolve(coro, (None, exc.failure))
                return
            if not wait:
                self._resolve(coro, (pid, None))
                if "m" in str(flags) or "l" in str(flags):
                    self._later(lambda: self._watch(pid, str(flags)))
                return
            value, failure = await engine.result(pid)
            self._resolve(coro, (value, failure))

        self._later(start)
        return PENDING

    async def _watch(self, pid: str, flags: str) -> None:
        engine = self._engine()
        assert engine is not None
        value, failure = await engine.result(pid)
        kind = "pid.link.down" if "l" in flags and failure is not None and "m" not in flags else "pid.exit"
        self.deliver(
            Delivery("@events", "", [], kind="event",
                     data={"kind": kind, "from": pid, "at": time.time_ns() // 1_000_000_000,
                           "result": {"value": value, "error": failure}})
        )  # fmt: skip

    def _op_exec(self, coro: int, target: Any, host: Any, args: list[JSONValue], opts: Any, flags: Any,
                 ctx: Any, name: Any = None, msgs: Any = None) -> Any:  # fmt: skip
        return self._op_spawn(coro, target, host, args, opts, flags, ctx, name, msgs, wait=True)

    def _op_psend(self, coro: int, dest: Any, topic: Any, payloads: list[JSONValue]) -> Any:
        if not isinstance(topic, str) or not topic:
            return (None, invalid("topic required"))
        if topic.startswith("@"):
            return (None, invalid("cannot send to @ topics"))
        pid = parse_pid(dest) if isinstance(dest, str) else None
        if pid is None:
            return (None, Failure(f"could not resolve '{dest}' as PID or registered name", "NotFound", False))
        try:
            encode(payloads, path="payload")
        except EncodeError as exc:
            return (None, Failure(f"cannot encode message: {exc}", INVALID, False))
        engine = self._engine()
        if engine is not None and engine.owns(str(dest)):

            async def signal() -> None:
                try:
                    await engine.signal(str(dest), topic, payloads, self.pid)
                except CallError as exc:
                    self._resolve(coro, (None, exc.failure))
                    return
                self._resolve(coro, (True, None))

            self._later(signal)
            return PENDING
        self.rt.deliver(str(dest), Delivery(topic, self.pid, list(payloads)))
        return (True, None)

    def _control(self, coro: int, dest: Any, action: str) -> Any:
        engine = self._engine()
        if not isinstance(dest, str) or engine is None or not engine.owns(dest):
            return (None, Failure(f"host not found for {dest}", "NotFound", False))

        async def run() -> None:
            try:
                if action == "terminate":
                    await engine.terminate(str(dest), "process.terminate")
                elif action == "cancel":
                    await engine.cancel(str(dest))
                else:
                    self._later(lambda: self._watch(str(dest), "m" if action == "monitor" else "l"))
            except CallError as exc:
                self._resolve(coro, (None, exc.failure))
                return
            self._resolve(coro, (True, None))

        self._later(run)
        return PENDING

    def _op_terminate(self, coro: int, dest: Any, *_r: Any) -> Any:
        return self._control(coro, dest, "terminate")

    def _op_cancel(self, coro: int, dest: Any, *_r: Any) -> Any:
        return self._control(coro, dest, "cancel")

    def _op_monitor(self, coro: int, dest: Any, *_r: Any) -> Any:
        return self._control(coro, dest, "monitor")

    def _op_link(self, coro: int, dest: Any, *_r: Any) -> Any:
        return self._control(coro, dest, "link")

    def _op_unmonitor(self, coro: int, *_r: Any) -> Any:
        return (True, None)

    def _op_unlink(self, coro: int, *_r: Any) -> Any:
        return (True, None)

    # workflow.* outside a workflow (spec lua-modules.md §8) ------------------------------------

    def _op_info(self, coro: int) -> Any:
        return (None, None)

    def _op_version(self, coro: int, _cid: Any, lo: Any, hi: Any) -> Any:
        if isinstance(lo, int) and isinstance(hi, int) and lo > hi:
            return (None, invalid("min version must not be greater than max version"))
        return (hi, None)

    def _op_attrs(self, coro: int, *_a: Any) -> Any:
        return (None, invalid("workflow.attrs is only available inside a workflow"))

    def _op_history_length(self, coro: int) -> Any:
        return (0, None)

    def _op_history_size(self, coro: int) -> Any:
        return (0, None)

    def _op_wexec(self, coro: int, *_a: Any) -> Any:
        return (None, invalid("workflow.exec outside workflow context not yet supported"))

    def _op_upgrade(self, coro: int, *_a: Any) -> Any:
        return (None, invalid("process.upgrade is only supported inside workflows"))

    def _op_registry_register(self, coro: int, *_a: Any) -> Any:
        return (None, invalid("the process name registry is not supported yet"))

    _op_registry_lookup = _op_registry_register
    _op_registry_unregister = _op_registry_register
