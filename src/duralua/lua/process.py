"""One Lua process: a sandboxed Lua state running one entry under the core scheduler.

:class:`LuaVM` implements the scheduler's ``CoroutineVM`` protocol on top of the process
driver (``driver.lua``): coroutines are addressed by integer id, channel values stay in
Lua, and the arguments of external operations are converted to plain Python values by the
one codec boundary (:mod:`duralua.lua.convert`) before they reach the host.
"""

from __future__ import annotations

import atexit
import gc
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Protocol

from ..codec import JSONValue
from ..core.machine import WorkflowMachine, future_value
from ..core.scheduler import RAISE, RETURN, YIELD, Delivery, Scheduler
from ..durations import DurationError, parse_ns
from ..errors import INVALID, BudgetExceeded, EncodeError, Failure, LuaError, MemoryLimitExceeded
from . import chunks
from .context import HostContext
from .convert import to_lua, to_python
from .modules import MODULE_INSTALLERS
from .modules.errors import failure_from_raise, failure_from_return, make_error
from .modules.payload import make_payload
from .modules.time import duration_ns_of, make_time
from .sandbox import LuaSandbox

_DRIVER = resources.files("duralua.lua").joinpath("driver.lua").read_text(encoding="utf-8")


class _ArgError:
    """Marks op arguments that could not be encoded; the VM answers the op with an error."""

    def __init__(self, failure: Failure) -> None:
        self.failure = failure


@dataclass
class EntryCode:
    """What is needed to load an entry into a Lua state (decoupled from the registry)."""

    entry_id: str
    source: str
    chunkname: str
    method: str | None
    modules: list[str] = field(default_factory=list)
    imports: dict[str, EntryCode] = field(default_factory=dict)
    first_line: int = 1


class ProcessOwner(Protocol):
    """Who the Lua process currently runs for (a function call or a workflow run)."""

    @property
    def pid(self) -> str: ...

    @property
    def context(self) -> dict[str, Any]: ...


class LuaVM:
    """A Lua state prepared for one entry, driven by a :class:`Scheduler`."""

    def __init__(
        self,
        code: EntryCode,
        ctx: HostContext,
        owner: ProcessOwner,
        *,
        log: Callable[[str, str], None] | None = None,
        memory_limit: int | None = None,
        instruction_budget: int | None = None,
    ) -> None:
        kwargs: dict[str, Any] = {}
        if memory_limit is not None:
            kwargs["memory_limit"] = memory_limit
        if instruction_budget is not None:
            kwargs["instruction_budget"] = instruction_budget
        self.sb = LuaSandbox(**kwargs)
        self.code = code
        self.ctx = ctx
        self.owner = owner
        self._log = log
        self.scheduler: Scheduler | None = None
        self._ids = itertools.count(2)
        lua = self.sb.lua
        self.lua = lua
        op_token = lua.table()
        self._op_token = op_token
        self._drv: Any = chunks.run(lua, _DRIVER, "=duralua.driver", self._callbacks(op_token),
                                    self.sb.lua_new_thread)  # fmt: skip
        self._resume_fn = self._drv.make_resume(self.sb.lua_resume)
        # lupa 2.8 returns garbage for Python-side reads of Lua tables (t[k], t.k) made while
        # a Lua coroutine is running (i.e. inside any callback from user code); everything a
        # callback needs is therefore read here, up front, or through the Lua-side `_get`.
        self._get: Any = self._drv.get
        drv = self._drv
        self._mods: dict[str, Any] = {name: drv[name] for name in ("funcs", "workflow", "process", "channel")}
        self._time_blocking = dict(drv.time.items())
        base = self.sb.make_globals()
        self._coroutine = lua.table_from(dict(base["coroutine"].items()))
        self._coroutine["spawn"] = drv.co_spawn
        self._print = self._print_fn()
        # Build every module's per-state classes now, on the main thread: built lazily from
        # user code they would be made inside a coroutine, and lupa ties proxies to the thread
        # they were made on (a state reused after that thread died corrupted memory).
        for installer in MODULE_INSTALLERS.values():
            installer(lua, ctx)
        self._lazy_names = lua.table_from({"errors": True, "payload": True, "os": True})
        self._lazy_cache: dict[str, Any] = {}
        self.poisoned = False
        self._entry_fn = self._load_entry()

    # -- loading -------------------------------------------------------------------------------

    def _callbacks(self, op_token: Any) -> Any:
        def spawn_thread() -> int:
            cid = next(self._ids)
            assert self.scheduler is not None
            self.scheduler.add_coroutine(cid)
            return cid

        def as_array(table: Any, n: int) -> Any:
            items = dict(table.items())
            out: list[JSONValue] = []
            for i in range(1, int(n) + 1):
                try:
                    out.append(to_python(items.get(i), f"args[{i}]"))
                except EncodeError as exc:
                    return _ArgError(Failure(str(exc), INVALID, False))
            return out

        def add_message(prev: Any, topic: str, payloads: Any) -> Any:
            msgs = list(prev) if isinstance(prev, list) else []
            msgs.append((topic, payloads))
            return msgs

        def duration_ns(value: Any) -> Any:
            ns = duration_ns_of(value)
            if ns is not None:
                return ns, None
            try:
                return parse_ns(value), None
            except DurationError as exc:
                return None, make_error(self.lua, Failure(str(exc), INVALID, False))

        def sched() -> Scheduler:
            assert self.scheduler is not None
            return self.scheduler

        return self.lua.table_from(
            {
                "op_token": op_token,
                "spawn_thread": spawn_thread,
                "new_channel": lambda cap: sched().new_channel(int(cap)),
                "close_channel": lambda cid: sched().close_channel(int(cid)),
                "channel_len": lambda cid: sched().channel_size(int(cid)),
                "subscribe": lambda topic, cid, as_msg: sched().subscribe(str(topic), int(cid), bool(as_msg)),
                "unsubscribe": lambda topic: sched().unsubscribe(str(topic)),
                "make_payload": lambda v: make_payload(self.lua, to_python(v)),
                "make_error": lambda kind, msg: make_error(self.lua, Failure(str(msg), str(kind), False)),
                "pid": lambda: self.owner.pid,
                "entry_id": lambda: self.code.entry_id,
                "as_array": as_array,
                "add_message": add_message,
                "set_trap_links": lambda _flag: None,
                "duration_ns": duration_ns,
            }
        )

    def _install_globals(self, env: Any) -> None:
        self._drv.lazy_globals(env, self._lazy_names, self._install_lazy)
        # Copies: a state may serve several runs one after another (see rebind), and one run
        # replacing e.g. process.send must not leak into the next.
        copy = self._drv.copy
        env["process"] = copy(self._mods["process"])
        env["channel"] = copy(self._mods["channel"])
        env["coroutine"] = copy(self._coroutine)
        env["print"] = self._print

    def _install_lazy(self, name: str) -> Any:
        # Not cached in Python: this runs inside a coroutine, and lupa ties proxies to the
        # thread they were made on, so keeping one past that thread corrupts memory.
        return MODULE_INSTALLERS[name](self.lua, self.ctx)

    def _print_fn(self) -> Any:
        def emit(text: str) -> None:
            if self._log is not None:
                self._log(self.owner.pid, str(text))

        return self._drv.make_print(emit)

    def _module(self, name: str) -> Any:
        if name in self._mods:
            return self._drv.copy(self._mods[name])
        if name == "time":
            mod = MODULE_INSTALLERS["time"](self.lua, self.ctx)
            for key, value in self._time_blocking.items():
                mod[key] = value
            return mod
        if name == "ctx":
            return self._ctx_module()
        installer = MODULE_INSTALLERS.get(name)
        if installer is None:
            return None
        return installer(self.lua, self.ctx)

    def _ctx_module(self) -> Any:
        def get(key: Any) -> Any:
            if not isinstance(key, str) or not key:
                return None, make_error(self.lua, Failure("context key required", INVALID, False))
            values = self.owner.context
            if key not in values:
                return None, make_error(self.lua, Failure(f"context value {key} not found", "NotFound", False))
            return to_lua(self.lua, values[key]), None

        def all_values() -> Any:
            return to_lua(self.lua, dict(self.owner.context)), None

        wrap = self._drv.wrap
        return self.lua.table_from({"get": wrap(get), "all": wrap(all_values)})

    def _load_entry(self) -> Any:
        return self._load(self.code, {})

    def _load(self, code: EntryCode, loaded: dict[str, Any]) -> Any:
        env = self.sb.make_globals()
        self._install_globals(env)
        modules: dict[str, Any] = {}
        allowed = set(code.modules) | {"errors"}

        def require(name: Any) -> Any:
            if not isinstance(name, str):
                raise LuaError("require expects a module name")
            if name in modules:
                return modules[name]
            if name in code.imports:
                imp = code.imports[name]
                if imp.entry_id not in loaded:
                    loaded[imp.entry_id] = self._load_chunk_value(imp, loaded)
                modules[name] = loaded[imp.entry_id]
                return modules[name]
            if name not in allowed:
                declared = ", ".join(sorted(allowed | set(code.imports))) or "none"
                raise LuaError(
                    f'module "{name}" is not declared by entry {code.entry_id}: add it to the entry\'s '
                    f"modules: (or imports:) list (declared: {declared})"
                )
            if name == "errors":
                value = self._install_lazy("errors")
            else:
                value = self._module(name)
                if value is None:
                    raise LuaError(f'module "{name}" is not available in duralua')
            modules[name] = value
            return value

        def lookup(name: Any) -> Any:
            try:
                return require(name), None
            except LuaError as exc:
                return None, exc.message

        env["require"] = self._drv.make_require(lookup)
        fn = self.sb.compile(code.source, code.chunkname, env=env, first_line=code.first_line)
        value = self.sb.call(fn)
        if code.method is None and code is not self.code:
            return value
        return self._entry_point(code, value)

    def _load_chunk_value(self, code: EntryCode, loaded: dict[str, Any]) -> Any:
        saved = code.method
        code = EntryCode(code.entry_id, code.source, code.chunkname, None, code.modules, code.imports,
                         code.first_line)  # fmt: skip
        del saved
        return self._load(code, loaded)

    def _entry_point(self, code: EntryCode, value: Any) -> Any:
        lua_type = self.lua.eval("type")
        kind = lua_type(value)
        if kind == "function":
            return value
        if kind == "table":
            method = code.method or "main"
            fn = self._get(value, method)
            if lua_type(fn) == "function":
                return fn
            raise LuaError(
                f'method "{method}" not found: the module of {code.entry_id} returns a table without a '
                f"function named {method}",
            )
        raise LuaError(f"{code.entry_id}: the chunk must return a function or a table of functions (got {kind})")

    # -- CoroutineVM ---------------------------------------------------------------------------

    def start(self, args: list[JSONValue]) -> None:
        assert self.scheduler is not None
        self._drv.start_main(self._entry_fn, *[to_lua(self.lua, a) for a in args])
        self.scheduler.add_coroutine(Scheduler.MAIN)

    def resume(self, coro: int, args: tuple[Any, ...]) -> tuple[Any, ...]:
        lua = self.lua
        conv = [to_lua(lua, a) if isinstance(a, (dict, list, Failure)) else a for a in args]
        while True:
            try:
                out = self._resume_fn(coro, *conv)
            except (BudgetExceeded, MemoryLimitExceeded):
                self.poisoned = True
                raise
            status = out[0]
            if status == YIELD:
                op = out[1]
                if op in ("recv", "send", "select", "yield"):
                    return tuple(out)
                try:
                    op_args = [self._arg(a, i) for i, a in enumerate(out[2:])]
                except EncodeError as exc:
                    conv = [None, make_error(lua, Failure(str(exc), INVALID, False))]
                    continue
                bad = next((a for a in op_args if isinstance(a, _ArgError)), None)
                if bad is not None:
                    conv = [None, make_error(lua, bad.failure)]
                    continue
                return (YIELD, op, *op_args)
            if status == RETURN:
                n = out[1]
                return (RETURN, *out[2 : 2 + n])
            # A state whose coroutine raised is not reused (freeing such a reused state has
            # crashed lupa); it is simply dropped with the run.
            self.poisoned = True
            return (RAISE, out[1])

    def _arg(self, value: Any, index: int) -> Any:
        if value is None or isinstance(value, (bool, int, float, str, list, _ArgError)):
            return value
        return to_python(value, f"option[{index}]")

    def materialize(self, delivery: Delivery, as_message: bool) -> int:
        lua = self.lua
        drv = self._drv
        kind = delivery.kind
        if kind == "message":
            return int(
                drv.make_message(
                    delivery.topic, delivery.sender, as_message, *[to_lua(lua, p) for p in delivery.payloads]
                )
            )
        if kind == "time":
            return int(drv.make_value(make_time(lua, int(delivery.data))))
        if kind == "future":
            ok, value = future_value(delivery.data)
            return int(drv.resolve_future(delivery.topic, ok, to_lua(lua, value)))
        return int(drv.make_value(to_lua(lua, delivery.data)))

    def release(self, handle: int) -> None:
        self._drv.stash_take(handle)

    def reset(self) -> None:
        """Forget the previous process's coroutines, channels and subscriptions (pool reuse)."""
        self._drv.reset()
        self.scheduler = None
        self._ids = itertools.count(2)

    def rebind(self, ctx: HostContext, owner: ProcessOwner, log: Callable[[str, str], None] | None) -> None:
        """Serve a new process with this state: fresh globals, modules and entry chunk, so
        nothing of the previous run is visible (only our immutable internals are reused)."""
        self.reset()
        self.ctx = ctx
        self.owner = owner
        self._log = log
        self._lazy_cache = {}
        self._entry_fn = self._load_entry()

    # -- results -------------------------------------------------------------------------------

    def result_of(self, values: tuple[Any, ...]) -> tuple[JSONValue, Failure | None]:
        if len(values) >= 2 and values[1] is not None:
            failure = failure_from_return(values[1])
            if failure is not None:
                return None, failure
        first = values[0] if values else None
        return to_python(first, "result"), None

    def failure_of(self, raised: Any) -> Failure:
        return failure_from_raise(raised)

    def close(self) -> None:
        self.scheduler = None


class LuaWorkflowProgram:
    """:class:`~duralua.core.machine.WorkflowProgram` backed by a :class:`LuaVM`."""

    def __init__(self, code: EntryCode, *, log: Callable[[str, str], None] | None = None,
                 memory_limit: int | None = None, instruction_budget: int | None = None) -> None:  # fmt: skip
        self._code = code
        self._log = log
        self._limits = (memory_limit, instruction_budget)
        self._vm: LuaVM | None = None
        self._machine: WorkflowMachine | None = None

    @property
    def vm(self) -> LuaVM:
        assert self._vm is not None
        return self._vm

    def bind(self, scheduler: Scheduler, host: WorkflowMachine) -> None:
        self._machine = host

        def log(pid: str, text: str) -> None:
            if self._log is not None and not host._replaying:
                self._log(pid, text)

        vm = _take_pooled(self._code, self._limits)
        if vm is not None:
            vm.rebind(host, host, log)
        else:
            vm = LuaVM(self._code, host, host, log=log, memory_limit=self._limits[0],
                       instruction_budget=self._limits[1])  # fmt: skip
        self._vm = vm
        self._vm.scheduler = scheduler
        self._vm.lua.execute("math.randomseed(...)", host.info.seed)

    def start(self, args: list[JSONValue]) -> None:
        self.vm.start(args)

    def result_of(self, values: tuple[Any, ...]) -> tuple[JSONValue, Failure | None]:
        return self.vm.result_of(values)

    def failure_of(self, raised: Any) -> Failure:
        return self.vm.failure_of(raised)

    def close(self) -> None:
        vm, self._vm = self._vm, None
        if vm is not None:
            vm.close()
            if not vm.poisoned:
                _put_pooled(self._code, self._limits, vm)


# Idle Lua states of finished or evicted runs, per workflow entry: a new run rebinds one
# (fresh globals and entry chunk) instead of paying for a new state. Engines may run
# workflows on several threads (Temporal), hence the lock.
_POOL: dict[tuple[int, tuple[int | None, int | None]], list[LuaVM]] = {}
_POOL_LOCK = threading.Lock()
POOL_SIZE = 64


def _drain_pool() -> None:
    # Lua states must be freed while the interpreter is intact: left to module teardown,
    # lupa runtimes can be finalised after what they reference (a segfault at exit).
    with _POOL_LOCK:
        _POOL.clear()
    gc.collect()


atexit.register(_drain_pool)


def _take_pooled(code: EntryCode, limits: tuple[int | None, int | None]) -> LuaVM | None:
    with _POOL_LOCK:
        idle = _POOL.get((id(code), limits))
        return idle.pop() if idle else None


def _put_pooled(code: EntryCode, limits: tuple[int | None, int | None], vm: LuaVM) -> None:
    with _POOL_LOCK:
        idle = _POOL.setdefault((id(code), limits), [])
        if len(idle) < POOL_SIZE:
            idle.append(vm)
