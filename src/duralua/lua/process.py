"""One Lua process: a sandboxed Lua state running one entry under the core scheduler.

:class:`LuaVM` implements the scheduler's ``CoroutineVM`` protocol on top of the process
driver (``driver.lua``): coroutines are addressed by integer id, channel values stay in
Lua, and the arguments of external operations are converted to plain Python values by the
one codec boundary (:mod:`duralua.lua.convert`) before they reach the host.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Protocol

import lupa.lua54 as lupa

from ..codec import JSONValue
from ..core.machine import future_value
from ..core.scheduler import RAISE, RETURN, YIELD, Delivery, Scheduler
from ..errors import INTERNAL, INVALID, BudgetExceeded, Failure, LuaError, MemoryLimitExceeded
from . import chunks
from .context import HostContext
from .convert import BINARY_STRING, LuaState, describe_tag, loads_exported, state_of, to_lua
from .modules import MODULE_INSTALLERS
from .modules._support import pyfn
from .modules.errors import failure_from_raise, make_error
from .modules.payload import payload_classes
from .modules.runtime_api import DROP_TOPIC_KEY, TOPIC_CHANNEL_KEY
from .modules.time import make_time, time_classes
from .sandbox import LuaSandbox
from .typestrip import prepare


def _source(name: str) -> str:
    return resources.files("duralua.lua").joinpath(name).read_text(encoding="utf-8")


_DRIVER = _source("driver.lua")
# The parts of the driver that need only its internals, run right after it in this order
# (process_module.lua reads what process_env.lua adds to the driver): (source, chunk name).
_DRIVER_PARTS = (
    (_source("process_env.lua"), "=duralua.process_env"),
    (_source("deliveries.lua"), "=duralua.deliveries"),
    (_source("process_module.lua"), "=duralua.process"),
)
# Context keys that carry the security actor and scope (process_module.lua); ctx.get/all hide them.
HIDDEN_CONTEXT = frozenset({"__actor", "__scope"})
HOST_OP_KEY = "duralua.host_op"  # LuaState.cache key of the driver's host_op (lua/modules/_ops.py)


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
    """A Lua state prepared for one entry, driven by a :class:`Scheduler`.

    Memory safety: lupa ties every proxy it makes to the Lua thread that was running when it
    was made, and releases it through that thread; a proxy kept after its coroutine died
    corrupts memory when the state is reused. So everything Python keeps here is made on the
    main thread, up front (the driver, module templates, the entry chunk), callbacks from
    user code keep nothing (module caches live in Lua), and values leave Lua as JSON text.
    """

    def __init__(
        self,
        code: EntryCode | None,
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
        st = state_of(lua)
        self._st = st
        # The templates of the modules the entry can reach are built now, on the main thread (see
        # the class docstring); require() copies one in Lua. Building every module's made a new
        # state cost ~5 ms, most of it for modules the entry does not declare.
        wanted = _modules_of(code)
        templates = {name: installer(lua, ctx) for name, installer in MODULE_INSTALLERS.items()
                     if wanted is None or name in wanted}  # fmt: skip
        payload_new = payload_classes(lua).new
        st.host = ctx
        callbacks = self._callbacks(st, payload_new, timed=wanted is None or "time" in wanted)
        self._drv: Any = chunks.run(lua, _DRIVER, "=duralua.driver", callbacks, self.sb.lua_new_thread)
        drv = self._drv
        internals = drv.internals
        for source, name in _DRIVER_PARTS:
            chunks.run(lua, source, name, drv, internals, callbacks)
        # The tenant whose per-process state the driver holds now (see switch); None: the one
        # the state started with (function calls and workflow runs never switch).
        self.current: object | None = None
        self._resume_fn = drv.make_resume(self.sb.lua_resume)
        self._resume_in, self._message_in, self._call_in = drv.tenant_calls(self._resume_fn)
        # Driver functions called for every process or run, looked up once: reading a field of
        # a Lua table from Python is a table lookup and a new proxy object each time (~0.8 us).
        self._start_main, self._reset, self._switch, self._new_tenant, self._entry_env, self._boot_tenant = (
            drv.start_main, drv.reset, drv.switch, drv.new_tenant, drv.entry_env, drv.boot_tenant)  # fmt: skip
        # Module functions that wait for the host (lua/modules/_ops.py: host_op) yield through
        # the driver, which exports their arguments like those of any other op.
        st.cache[HOST_OP_KEY] = drv.host_op
        st.cache[TOPIC_CHANNEL_KEY] = drv.topic_channel
        st.cache[DROP_TOPIC_KEY] = drv.drop_topic
        # lupa 2.8 returns garbage for Python-side reads of Lua tables (t[k], t.k) made while
        # a Lua coroutine is running (i.e. inside any callback from user code); everything a
        # callback needs is therefore read here, up front, or through the Lua-side `_get`.
        self._get: Any = drv.get
        time_mod = templates.get("time")
        if time_mod is not None:
            for key, value in drv.time.items():
                time_mod[key] = value
        for name in ("funcs", "workflow", "process", "channel", "security"):
            templates[name] = drv[name]
        templates["ctx"] = self._ctx_module()
        for name, template in templates.items():
            drv.set_template(name, template)
        self._print = self._print_fn()
        # Compiled once: a chunk compiled per run was a measurable share of rebuilding a run.
        self.randomseed: Any = self.sb._priv.seed_rng  # the current tenant's math.random
        self._imports = _imports_by_id(code) if code is not None else {}
        self._resolver_cache: dict[tuple[str, str], tuple[Any, Any]] = {}
        self._entry_resolver_cache: dict[tuple[str, str], tuple[Any, Any]] = {}
        self._factories: dict[tuple[str, str], Any] = {}
        self._specs: dict[tuple[str, str], Any] = {}
        self.poisoned = False
        self._entry_fn = self._load_entry() if code is not None else None
        # What the state holds before any tenant (shared among the runs of a shared state).
        self.base_memory = self.sb.memory_used

    # -- loading -------------------------------------------------------------------------------

    def _callbacks(self, st: LuaState, payload_new: Any, *, timed: bool = True) -> Any:
        def spawn_thread() -> int:
            cid = next(self._ids)
            assert self.scheduler is not None
            self.scheduler.add_coroutine(cid)
            return cid

        def sched() -> Scheduler:
            assert self.scheduler is not None
            return self.scheduler

        base = self.sb.make_globals()
        return self.lua.table_from(
            {
                "core": st.core,
                "guard": self.sb.lua_call,
                "coroutine": base["coroutine"],
                "payload_new": payload_new,
                "binary": BINARY_STRING,
                "spawn_thread": spawn_thread,
                "new_channel": lambda cap: sched().new_channel(int(cap)),
                "close_channel": lambda cid: sched().close_channel(int(cid)),
                "channel_len": lambda cid: sched().channel_size(int(cid)),
                "subscribe": lambda topic, cid, as_msg: sched().subscribe(str(topic), int(cid), bool(as_msg)),
                "unsubscribe": lambda topic: sched().unsubscribe(str(topic)),
                "pid": lambda: self.owner.pid,
                "entry_id": lambda: self._entry_id(),
                "trap": lambda on: self._set_trap(on is True),
                "send": lambda text: self._owner_send("send_now", str(text)),
                "send_plain": lambda dest, topic, *p: self._owner_send("send_values", dest, topic, list(p)),
                "context_value": lambda key: to_lua(self.lua, self.owner.context.get(str(key))),
                # Only the time module's functions (driver.lua: D.time) convert durations, and a
                # state whose entry cannot require it never reaches them: its time classes are not
                # built (~0.6 ms and ~70 KB of every new Lua state).
                "to_ns": time_classes(self.lua).to_ns if timed else None,
                "env_maker": self.sb._priv.env_maker,
                "copier": self.sb._priv.copier,
                "rng": self.sb._priv.rng,
            }
        )

    def _entry_id(self) -> str:
        entry = getattr(self.owner, "entry_id", None)
        if isinstance(entry, str):
            return entry
        return self.code.entry_id if self.code is not None else ""

    def _owner_send(self, method: str, *args: Any) -> Any:
        """``process.send`` answered without a yield when the owner can (a runtime process):
        ``send_now`` takes the exported JSON text, ``send_values`` plain values (driver.lua
        ``plain``) as they are. False: use the op. Never raises into Lua (see the class docstring)."""
        send = getattr(self.owner, method, None)
        if send is None:
            return False
        try:
            return send(*args)
        except Exception:
            return False

    def _set_trap(self, on: bool) -> None:
        # A runtime process must know whether a LINK_DOWN kills it (it decides before any Lua runs).
        setter = getattr(self.owner, "set_trap_links", None)
        if setter is not None:
            setter(on)

    def _print_fn(self) -> Any:
        def emit(text: str) -> None:
            if self._log is not None:
                self._log(self.owner.pid, str(text))

        return self._drv.make_print(emit)

    def _ctx_module(self) -> Any:
        st = self._st

        def get(key: Any = None, *_: Any) -> Any:
            if not isinstance(key, str) or not key:
                return None, make_error(self.lua, Failure("context key required", INVALID, False))
            values = self.owner.context
            if key not in values or key in HIDDEN_CONTEXT:
                return None, make_error(self.lua, Failure(f"context value {key} not found", "NotFound", False))
            return to_lua(self.lua, values[key]), None

        def all_values(*_: Any) -> Any:
            values = {k: v for k, v in self.owner.context.items() if k not in HIDDEN_CONTEXT}
            return to_lua(self.lua, values), None

        return self.lua.table_from({"get": pyfn(st, get), "all": pyfn(st, all_values)})

    def _load_entry(self) -> Any:
        assert self.code is not None
        # The chunk compiled once per state (see _factory): a pooled state rebound to the next
        # run (a workflow rebuilt after eviction) only runs it, which was a fifth of a rebind.
        return self._load(self.code, None, entry=True, factory=self._factory(self.code))

    def _load(self, code: EntryCode, loaded: Any, *, entry: bool = False, factory: Any = None) -> Any:
        """Compile and run one chunk (the entry's, or an import's from inside a run). With
        ``factory`` (see :meth:`_factory`) the chunk is not compiled again, only run."""
        # Fresh globals with this chunk's require, in one call (process_module.lua: entry_env).
        resolvers = self._entry_resolvers(code) if entry else self._resolvers(code)
        env = self._entry_env(self._print, *resolvers, loaded)
        args: tuple[Any, ...] = ()
        if factory is not None:
            fn, args = factory, (env,)
        else:
            fn = self.sb.compile(code.source, code.chunkname, env=env, first_line=code.first_line)
        try:
            value = self.sb.call(fn, *args)
        except UnicodeDecodeError:
            raise LuaError(f"{code.entry_id}: the chunk returned a {BINARY_STRING}") from None
        if not entry:
            return value
        return self._entry_point(code, value)

    def _resolvers(self, code: EntryCode) -> tuple[Any, Any]:
        """``require``'s lookup and import loader for ``code`` (made once per entry and state:
        every process of a shared state that runs the entry uses the same two)."""
        key = (code.entry_id, code.source)  # imports come as fresh EntryCode objects: not id()
        found = self._resolver_cache.get(key)
        if found is not None:
            return found
        allowed = set(code.modules) | {"errors"}

        def lookup(name: str) -> tuple[str, str]:
            if name in code.imports:
                return "import", code.imports[name].entry_id
            if name not in allowed:
                declared = ", ".join(sorted(allowed | set(code.imports))) or "none"
                return "error", (
                    f'module "{name}" is not declared by entry {code.entry_id}: add it to the entry\'s '
                    f"modules: (or imports:) list (declared: {declared})"
                )
            return "module", name

        def load_import(entry_id: str, shared: Any) -> Any:
            imp = self._imports[entry_id]
            chunk = EntryCode(imp.entry_id, imp.source, imp.chunkname, None, imp.modules, imp.imports,
                              imp.first_line)  # fmt: skip
            # Nothing may leave as a Python exception: its traceback would keep this call's
            # Lua arguments (tied to the running coroutine) alive past the coroutine.
            try:
                return self._load(chunk, shared, entry=False), None
            except LuaError as exc:
                return None, exc.message
            except Exception as exc:
                return None, f"{entry_id} could not be loaded: {type(exc).__name__}: {exc}"

        self._resolver_cache[key] = (lookup, load_import)
        return lookup, load_import

    def _entry_resolvers(self, code: EntryCode) -> tuple[Any, Any]:
        """:meth:`_resolvers` with the declared names answered in Lua (a call into Python per
        ``require`` was ~2 us of an entry load). Kept per state, hence made on the main thread
        only (see the class docstring): for entries, never for an import loaded inside a run."""
        key = (code.entry_id, code.source)
        found = self._entry_resolver_cache.get(key)
        if found is not None:
            return found
        lookup, load_import = self._resolvers(code)
        known = {name: ("module", name) for name in set(code.modules) | {"errors"}}
        known.update({name: ("import", imp.entry_id) for name, imp in code.imports.items()})
        lua = self.lua
        table = lua.table_from({name: lua.table(*pair) for name, pair in known.items()})
        found = self._entry_resolver_cache[key] = (self._drv.known_lookup(table, lookup), load_import)
        return found

    def _factory(self, code: EntryCode) -> Any:
        """The entry chunk compiled once per state as ``function(_ENV, ...) <chunk> end``: each
        process then runs it with its own globals, sharing the compiled code (a process costs
        its closures, not a copy of the prototype). None when the chunk needs the typed-Lua
        wrapper (runtime type values), which binds its own environment."""
        key = (code.entry_id, code.source)
        if key in self._factories:
            return self._factories[key]
        factory = None
        source = code.source
        if prepare(source).spec is None and not source.startswith("#"):
            wrapped = "return function(_ENV, ...) " + source + "\nend"
            try:
                outer = self.sb.compile(wrapped, code.chunkname, env=self.sb.make_globals(), first_line=code.first_line)
                factory = self.sb.call(outer)
            except LuaError:
                factory = None  # compiled as a chunk below, for the user's own error message
        self._factories[key] = factory
        return factory

    def _entry_point(self, code: EntryCode, value: Any) -> Any:
        kind = self.sb.lua_type(value)
        if kind == "function":
            return value
        if kind == "table":
            method = code.method or "main"
            fn = self._get(value, method)
            if self.sb.lua_type(fn) == "function":
                return fn
            raise LuaError(
                f'method "{method}" not found: the module of {code.entry_id} returns a table without a '
                f"function named {method}",
            )
        raise LuaError(f"{code.entry_id}: the chunk must return a function or a table of functions (got {kind})")

    # -- CoroutineVM ---------------------------------------------------------------------------

    def start(self, args: list[JSONValue]) -> None:
        assert self.scheduler is not None
        self._start_main(self._entry_fn, *[to_lua(self.lua, a) for a in args])
        self.scheduler.add_coroutine(Scheduler.MAIN)

    def resume(self, coro: int, args: tuple[Any, ...], tenant: Any = None) -> tuple[Any, ...]:
        """Never raises for what the run did: results and errors come back converted (a
        Failure for RAISE); only budget and memory exhaustion raise (the run is held).
        ``tenant``: the process of a shared state this coroutine belongs to (see switch)."""
        lua = self.lua
        conv = [a if a is None or type(a) is bool or type(a) is int else to_lua(lua, a) for a in args]
        try:
            out = self._resume_fn(coro, *conv) if tenant is None else self._resume_in(tenant, coro, *conv)
        except (BudgetExceeded, MemoryLimitExceeded):
            self.poisoned = True
            raise
        except lupa.LuaMemoryError as exc:
            self.poisoned = True
            raise MemoryLimitExceeded(f"memory limit exceeded in the Lua driver: {exc}") from None
        except Exception as exc:  # the driver itself failed: this state is not to be trusted again
            self.poisoned = True
            return (RAISE, Failure(f"internal error in the Lua driver: {type(exc).__name__}: {exc}", INTERNAL, False))
        if type(out) is not tuple:
            out = (out,)
        status = out[0]
        if status == YIELD:
            op = out[1]
            if op in _CHANNEL_OPS:
                return tuple(out)
            if len(out) > 2 and out[2] is False:  # plain values (driver.lua plain_op)
                plain = _PLAIN_OPS.get(op)
                if plain is not None:
                    return (YIELD, op, *plain(out[3:]))
            try:
                op_args = loads_exported(out[2]) if len(out) > 2 else []
            except (TypeError, ValueError) as exc:
                return (RAISE, Failure(f"internal error: op {op!r} with unreadable arguments: {exc}", INTERNAL, False))
            return (YIELD, op, *op_args)
        if status == RETURN:
            if len(out) == 1:
                return (RETURN,)
            return (RETURN, *_result(out[1:]))
        return (RAISE, _failure(out[1], out[2] if len(out) > 2 else None, None))

    def materialize(self, delivery: Delivery, as_message: bool, tenant: Any = None) -> int:
        try:
            return self._materialize(delivery, as_message, tenant)
        except lupa.LuaMemoryError as exc:
            self.poisoned = True
            raise MemoryLimitExceeded(f"memory limit exceeded while delivering a message: {exc}") from None

    def _materialize(self, delivery: Delivery, as_message: bool, tenant: Any = None) -> int:
        lua = self.lua
        drv = self._drv
        kind = delivery.kind
        if kind == "message":
            args = (to_lua(lua, delivery.topic), to_lua(lua, delivery.sender), as_message,
                    *[to_lua(lua, p) for p in delivery.payloads])  # fmt: skip
            return int(drv.make_message(*args) if tenant is None else self._message_in(tenant, *args))
        if tenant is not None:
            drv.switch(tenant)
        if kind == "time":
            return int(drv.make_value(make_time(lua, int(delivery.data))))
        if kind == "future":
            ok, value = future_value(delivery.data)
            return int(drv.resolve_future(to_lua(lua, delivery.topic), ok, to_lua(lua, value)))
        return int(drv.make_value(to_lua(lua, delivery.data)))

    def release(self, handle: int, tenant: Any = None) -> None:
        if tenant is None:
            self._drv.stash_take(handle)
        else:
            self._call_in(tenant, "stash_take", handle)

    def reset(self) -> None:
        """Forget the previous process's coroutines, channels and subscriptions (pool reuse)."""
        self._reset()
        self.scheduler = None
        self._ids = itertools.count(2)

    # -- tenants: one state serving several processes in turn (runtime process hosts) -------

    def new_tenant(self) -> Any:
        """The driver-side state of one more process (a Lua table made on the main thread)."""
        return self._new_tenant()

    def switch(
        self,
        tenant: Any,
        key: object,
        owner: ProcessOwner,
        scheduler: Scheduler,
        *,
        lua: bool = True,
        ctx: HostContext | None = None,
        log: Callable[[str, str], None] | bool | None = False,
    ) -> None:
        """Make ``tenant`` (identified by ``key``) the process the callbacks serve, and (``lua``)
        the driver's current one. The tenant-aware calls (``resume``, ``materialize``,
        ``release`` with ``tenant``) switch the driver themselves. Workflow runs, each with a
        clock and a log of its own, also switch ``ctx`` and ``log`` (False: keep the state's)."""
        self.owner = owner
        self.scheduler = scheduler
        if ctx is not None:
            self.ctx = ctx
            self._st.host = ctx
        if log is not False:
            self._log = log if callable(log) else None
        if lua:
            self._switch(tenant)
        self.current = key

    def switch_lua(self, tenant: Any) -> None:
        """Make ``tenant`` the driver's current one (its callbacks already serve it)."""
        self._switch(tenant)

    def vacate(self) -> None:
        """Serve nobody: the driver holds an empty tenant, so nothing of the last one stays
        reachable from it (a closed run's coroutines and values can be collected)."""
        self._switch(self._new_tenant())
        self.current = None

    def load_tenant_entry(self, code: EntryCode) -> Any:
        """Load ``code`` for the current tenant: fresh globals, modules and entry chunk."""
        self._imports.update(_imports_by_id(code))
        return self._load(code, None, entry=True, factory=self._factory(code))

    def boot_tenant(self, code: EntryCode, args: list[JSONValue]) -> Any:
        """A new process of this state running ``code`` in one call: its tenant (the driver's
        current one from now on) with the main coroutine ready, the chunk run by its first
        step; None when the chunk cannot be shared (typed Lua with type values): then
        :meth:`new_tenant`, :meth:`load_tenant_entry` and :meth:`start_tenant`."""
        key = (code.entry_id, code.source)
        spec = self._specs.get(key)
        if spec is None:
            factory = self._factory(code)
            if factory is None:
                return None
            lookup, load_import = self._entry_resolvers(code)
            spec = self._drv.entry_spec(factory, self._print, lookup, load_import, code.method or "main",
                                        code.entry_id)  # fmt: skip
            self._specs[key] = spec
        assert self.scheduler is not None
        if code.imports:
            self._imports.update(_imports_by_id(code))
        lua = self.lua
        tenant = self._boot_tenant(spec, *[to_lua(lua, a) for a in args])
        self.scheduler.add_coroutine(Scheduler.MAIN)
        return tenant

    def start_tenant(self, entry_fn: Any, args: list[JSONValue]) -> None:
        assert self.scheduler is not None
        self._start_main(entry_fn, *[to_lua(self.lua, a) for a in args])
        self.scheduler.add_coroutine(Scheduler.MAIN)

    def rebind(self, ctx: HostContext, owner: ProcessOwner, log: Callable[[str, str], None] | None) -> None:
        """Serve a new process with this state: fresh globals, modules and entry chunk, so
        nothing of the previous run is visible (only our immutable internals are reused)."""
        self.reset()
        self.ctx = ctx
        self._st.host = ctx
        self.owner = owner
        self._log = log
        self._entry_fn = self._load_entry()

    # -- results -------------------------------------------------------------------------------

    def result_of(self, values: tuple[Any, ...]) -> tuple[JSONValue, Failure | None]:
        """``values`` are what :meth:`resume` returned for the main coroutine (converted)."""
        if len(values) == 2 and (values[1] is None or isinstance(values[1], Failure)):
            return values[0], values[1]
        return None, Failure("internal error: the main coroutine's result was not converted", INTERNAL, False)

    def failure_of(self, raised: Any) -> Failure:
        if isinstance(raised, Failure):
            return raised
        return failure_from_raise(raised)

    def close(self) -> None:
        self.scheduler = None


_CHANNEL_OPS = frozenset(("recv", "send", "select"))


def _plain_spawn(values: tuple[Any, ...]) -> tuple[Any, ...]:
    flags, target, host, *args = values
    return (target, host, args, None, flags, None, None, None)


def _plain_send(values: tuple[Any, ...]) -> tuple[Any, ...]:
    dest, topic, *payloads = values
    return (dest, topic, payloads)


# The arguments the JSON form of these ops (process_module.lua) decodes to, from plain values.
_PLAIN_OPS: dict[str, Callable[[tuple[Any, ...]], tuple[Any, ...]]] = {
    "spawn": _plain_spawn, "exec": _plain_spawn, "psend": _plain_send,
}  # fmt: skip


def _failure(tag: Any, payload: Any, retryable: bool | None) -> Failure:
    failure = describe_tag(tag, payload, retryable)
    if failure is None:  # a Python exception raised by a callback
        return failure_from_raise(payload)
    return failure


def _result(out: tuple[Any, ...]) -> tuple[JSONValue, Failure | None]:
    if out[0] == "value":
        return (out[1] if len(out) > 1 else None), None
    if out[0] == "ok":
        return loads_exported(str(out[1])), None
    return None, _failure(out[1], out[2] if len(out) > 2 else None, False)


# Modules every environment reaches as globals without declaring them (process_env.lua: lazy_global).
_GLOBAL_MODULES = frozenset({"errors", "payload", "os"})


def _modules_of(code: EntryCode | None) -> frozenset[str] | None:
    """The modules ``code`` and its imports can require (None: any, for a state shared by entries)."""
    if code is None:
        return None
    names = set(_GLOBAL_MODULES) | set(code.modules)
    for imp in _imports_by_id(code).values():
        names.update(imp.modules)
    return frozenset(names)


def _imports_by_id(code: EntryCode) -> dict[str, EntryCode]:
    """Every import of an entry, transitively, by entry id."""
    found: dict[str, EntryCode] = {}
    todo = [code]
    while todo:
        for imp in todo.pop().imports.values():
            if imp.entry_id not in found:
                found[imp.entry_id] = imp
                todo.append(imp)
    return found
