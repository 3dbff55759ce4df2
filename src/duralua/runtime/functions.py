"""Running ordinary (non-durable) code: function entries, in Lua or Python.

A function call is a short-lived process (:class:`~.proc.Proc`) with its own PID and
scheduler. The fast path runs it to completion synchronously (a trivial call never touches
asyncio); when it blocks on something external (a real sleep, a workflow start, a nested call
that blocks) the runtime continues it on the asyncio loop. The same code runs activities for
the embedded engine.

:class:`FunctionRuntime` is also the runtime's node (:mod:`.node`): the local router, name
registry and process hosts that function calls, host processes and workflow callers share.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..codec import JSONValue
from ..core.scheduler import Scheduler
from ..engine import Engine
from ..errors import INTERNAL, INVALID, CallError, DuraluaError, EncodeError, Failure, not_found
from ..lua.context import SystemContext
from ..lua.process import EntryCode, LuaVM
from .node import Node
from .proc import Proc, ProcVM, terminated

if TYPE_CHECKING:
    from ..registry import Registry
    from .boot import RuntimeServices

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


class FunctionRuntime(Node):
    """Calls function entries; the node every function call and host process lives on."""

    def __init__(
        self,
        *,
        node: str = "local",
        log: Logger | None = None,
        memory_limit: int | None = None,
        instruction_budget: int | None = None,
    ) -> None:
        super().__init__(node)
        self.functions: dict[str, FunctionDef] = {}
        self.process_codes: dict[str, EntryCode] = {}  # process.lua entries hosts can spawn
        self.engine: Engine | None = None
        self.worker_ids: set[str] = set()
        self.registry: Registry | None = None
        self.log = log
        self._log = log
        self.limits = (memory_limit, instruction_budget)
        self._limits = self.limits
        self._pools: dict[str, _Pool] = {}
        self._ctx = _RuntimeContext(self)
        # An engine with a virtual clock replaces these so functions share its time.
        self.sleep_ns: Callable[[int], Awaitable[None]] = _real_sleep
        # Lua modules of the runtime (logger, env, io, registry...) keep their state here.
        self.services: dict[str, Any] = {}
        # The hosts, supervisor and control channel running on this runtime, while they run.
        self.booted: RuntimeServices | None = None

    # -- registration --------------------------------------------------------------------------

    def add(self, fn: FunctionDef) -> None:
        self.functions[fn.entry_id] = fn

    def is_function_host(self, host: str) -> bool:
        return host in self.functions

    # -- calling -------------------------------------------------------------------------------

    def call(self, entry_id: str, args: list[JSONValue], context: dict[str, Any] | None = None) -> JSONValue:
        """Synchronous call from Python; raises CallError on failure."""
        call = self._begin(entry_id, args, context or {})
        if not call.finished:
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

    def host_context(self) -> SystemContext:
        return self._ctx


async def _real_sleep(ns: int) -> None:
    await asyncio.sleep(ns / 1e9)


class _RuntimeContext(SystemContext):
    """The OS context, but with the runtime's clock (virtual in tests)."""

    def __init__(self, rt: FunctionRuntime) -> None:
        super().__init__()
        self._rt = rt

    def now_ns(self) -> int:
        return self._rt.clock_ns()


class _Call(Proc):
    """One function invocation (a process with a PID, alive until the function returns)."""

    __slots__ = ("_deferred", "_py_task", "_vm", "_wake", "args", "finish_async_needed", "fn")

    def __init__(
        self,
        rt: FunctionRuntime,
        fn: FunctionDef,
        args: list[JSONValue],
        context: dict[str, Any],
        values: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(rt, rt.new_pid(fn.entry_id), fn.entry_id, context, values)
        self.rt: FunctionRuntime = rt
        self.fn = fn
        self.args = args
        self.finish_async_needed = False
        self._vm: LuaVM | None = None
        self._wake: asyncio.Event | None = None
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
        sched = Scheduler(None, self._on_op)
        self._view = ProcVM(self, vm)
        sched.attach(self._view)
        vm.scheduler = sched
        self._sched = sched
        self.rt.procs[self.pid] = self
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

    def _release(self, reusable: bool) -> None:
        if self._vm is not None:
            self.rt.release(self.fn, self._vm, reusable)
            self._vm = None

    def _close(self, reusable: bool = True) -> None:
        if self.finished:
            return
        super()._close(reusable)
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
        if self.finished:
            return
        self._wake = asyncio.Event()
        self._wake.set()  # deliveries that arrived before a loop drove the call
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

    def terminate(self, failure: Failure | None = None) -> None:
        """Stop this call now (test runner timeouts); its caller sees ``failure``."""
        self.doom(failure or terminated())
        if self._wake is not None:
            self._wake.set()

    # -- async plumbing ------------------------------------------------------------------------

    def _kick(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def _later(self, make: Callable[[], Awaitable[None]]) -> None:
        """Run async work now if a loop drives this call, else when wait() starts."""
        if self._wake is None:
            self._deferred.append(make)
        else:
            self._spawn(make())
