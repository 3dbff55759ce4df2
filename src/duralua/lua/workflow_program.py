"""Workflow runs as tenants of shared Lua states.

A Lua state costs ≈ 0.6 MB and 2-3 ms to make; a run's own part of one (its globals, module
copies, entry closures and coroutines) is tens of KB. So runs do not get a state each: like
the runtime's processes, several runs share a state, each as a *tenant* of it (driver.lua:
``new_tenant``/``switch``), with the compiled chunks and module templates of the state in
common. A new or rebuilt run costs a tenant, not a state, and the live-state cache holds many
more runs in the same memory.

What a run could notice of its neighbours, and why it cannot:

* globals, modules, coroutines, channels, timers, the stash: per tenant (driver.lua);
* ``math.random``: one generator per tenant (rng.lua), seeded from the run's recorded seed,
  bit-exact with the C generator a run had in a state of its own;
* the host callbacks (time, uuid, ops, logging) are switched with the tenant, under a lock
  held for each call into the state, since Temporal's replayer steps runs on several threads;
* the instruction budget counts per call into the state, so per run;
* memory: the limit is the state's. A run that reaches it in a state it shares gets
  :class:`StateCrowded` (a :class:`MemoryLimitExceeded`), which engines answer by rebuilding
  the run in a state of its own; only a run that reaches the limit alone is held. A state
  that reached its limit takes no new tenants.
"""

from __future__ import annotations

import atexit
import gc
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..codec import JSONValue
from ..core.machine import WorkflowMachine
from ..core.scheduler import Delivery, Scheduler
from ..errors import Failure, MemoryLimitExceeded
from .process import EntryCode, LuaVM

#: Runs one shared state takes at most.
TENANTS_PER_STATE = 64
#: A shared state takes new runs while it uses less than this share of its memory limit.
ADMIT_SHARE = 0.25
#: Idle shared states kept per limits (the next runs would make them again).
IDLE_STATES = 2

Limits = tuple[int | None, int | None]


class StateCrowded(MemoryLimitExceeded):
    """The memory limit of a Lua state was reached by a run that shares it: maybe its
    neighbours' doing, so the run is rebuilt in a state of its own rather than held."""


@dataclass(eq=False)
class _Shared:
    vm: LuaVM
    limits: Limits
    group: list[_Shared]  # the states of the same app and limits, this one among them
    exclusive: bool = False
    tenants: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock)

    def admits(self) -> bool:
        if self.exclusive or self.vm.poisoned or self.tenants >= TENANTS_PER_STATE:
            return False
        limit = self.limits[0]
        return limit is None or self.vm.sb.memory_used < limit * ADMIT_SHARE


class _Scope:
    """Runs given no scope (one-off replays) share states among themselves."""


_NO_SCOPE = _Scope()
# Per app (its catalog: a state resolves `require` of imports by entry id, which is unique
# within one app only), then per limits. Weak: an app that is gone takes its states along.
_STATES: weakref.WeakKeyDictionary[object, dict[Limits, list[_Shared]]] = weakref.WeakKeyDictionary()
_STATES_LOCK = threading.Lock()


def _admit(scope: object, limits: Limits, exclusive: bool, make: Callable[[], LuaVM]) -> _Shared:
    with _STATES_LOCK:
        group = _STATES.setdefault(scope, {}).setdefault(limits, [])
        if not exclusive:
            for state in group:
                if state.admits():
                    state.tenants += 1
                    return state
    state = _Shared(make(), limits, group, exclusive=exclusive, tenants=1)  # made outside the lock: ms
    with _STATES_LOCK:
        group.append(state)
    return state


def _leave(state: _Shared) -> None:
    with _STATES_LOCK:
        state.tenants -= 1
        if state.tenants > 0:
            return
        idle = sum(1 for s in state.group if s.tenants == 0)
        if state.exclusive or state.vm.poisoned or idle > IDLE_STATES:
            state.group.remove(state)


def _drain() -> None:
    # Lua states must be freed while the interpreter is intact: left to module teardown,
    # lupa runtimes can be finalised after what they reference (a segfault at exit).
    with _STATES_LOCK:
        _STATES.clear()
    gc.collect()


atexit.register(_drain)


def shared_state_count(scope: object | None = None) -> int:
    """Lua states that serve workflow runs now, of the app ``scope`` (its catalog) or of all."""
    with _STATES_LOCK:
        scopes = list(_STATES.values()) if scope is None else [_STATES.get(scope, {})]
        return sum(len(states) for groups in scopes for states in groups.values())


class _Tenant:
    """The scheduler's view of one run in a shared state: every call switches the state to
    this run (its Lua-side tenant and its Python callbacks) under the state's lock, and
    charges the memory the state gained or lost during the call to the run."""

    __slots__ = ("__weakref__", "code", "log", "machine", "memory", "scheduler", "state", "tenant")

    def __init__(self, state: _Shared, code: EntryCode, machine: WorkflowMachine, scheduler: Scheduler,
                 log: Callable[[str, str], None] | None) -> None:  # fmt: skip
        self.state = state
        self.code = code
        self.machine = machine
        self.scheduler = scheduler
        self.log = log
        self.memory = 0
        self.tenant: Any = None

    def enter(self, lua: bool) -> LuaVM:
        """Serve this run with the state (the caller holds its lock)."""
        vm = self.state.vm
        if vm.current is not self:
            vm.switch(self.tenant, self, self.machine, self.scheduler, lua=lua, ctx=self.machine, log=self.log)
            vm.code = self.code
        elif lua:
            vm.switch_lua(self.tenant)
        return vm

    def _crowded(self, exc: MemoryLimitExceeded) -> MemoryLimitExceeded:
        if self.state.tenants > 1 and not isinstance(exc, StateCrowded):
            return StateCrowded(f"{exc} (in a Lua state shared with {self.state.tenants - 1} other runs)")
        return exc

    def call(self, fn: Callable[..., Any], *args: Any, lua: bool = True) -> Any:
        """``fn(vm, *args)`` for this run (``lua``: with the driver switched to it first; the
        tenant-aware LuaVM calls switch it themselves)."""
        state = self.state
        with state.lock:
            vm = state.vm
            if lua or vm.current is not self:
                self.enter(lua)
            sb = vm.sb
            before = sb.memory_used
            try:
                return fn(vm, *args)
            except MemoryLimitExceeded as exc:
                raise self._crowded(exc) from None
            finally:
                self.memory = max(0, self.memory + sb.memory_used - before)

    # -- CoroutineVM (unbound LuaVM methods: no closure per call on the hot path) ---------------

    def resume(self, coro: int, args: tuple[Any, ...]) -> tuple[Any, ...]:
        out: tuple[Any, ...] = self.call(LuaVM.resume, coro, args, self.tenant, lua=False)
        return out

    def materialize(self, delivery: Delivery, as_message: bool) -> int:
        return int(self.call(LuaVM.materialize, delivery, as_message, self.tenant, lua=False))

    def release(self, handle: int) -> None:
        self.call(LuaVM.release, handle, self.tenant, lua=False)


class LuaWorkflowProgram:
    """:class:`~duralua.core.machine.WorkflowProgram` backed by a tenant of a shared
    :class:`LuaVM` (``exclusive``: a state of its own, for a run rebuilt after
    :class:`StateCrowded`)."""

    def __init__(self, code: EntryCode, *, log: Callable[[str, str], None] | None = None,
                 memory_limit: int | None = None, instruction_budget: int | None = None,
                 exclusive: bool = False, scope: object | None = None) -> None:  # fmt: skip
        """``scope``: the app the run belongs to (its catalog); runs share states within one."""
        self._code = code
        self._scope = _NO_SCOPE if scope is None else scope
        self._log = log
        self._limits: Limits = (memory_limit, instruction_budget)
        self._exclusive = exclusive
        self._view: _Tenant | None = None
        self._entry_fn: Any = None

    @property
    def vm(self) -> _Tenant:
        assert self._view is not None
        return self._view

    def memory_used(self) -> int:
        """Bytes of Lua memory this run accounts for: what its calls into the state added, and
        its share of the state's common part (the live-state cache is sized by memory)."""
        view = self._view
        if view is None:
            return 0
        return view.memory + view.state.vm.base_memory // max(1, min(TENANTS_PER_STATE, view.state.tenants))

    @property
    def usable(self) -> bool:
        """False once the state reached its memory or instruction limit: a cached run there is
        better rebuilt elsewhere than stepped again."""
        return self._view is not None and not self._view.state.vm.poisoned

    def bind(self, scheduler: Scheduler, host: WorkflowMachine) -> None:
        def log(pid: str, text: str) -> None:
            if self._log is not None and not host._replaying:
                self._log(pid, text)

        memory, budget = self._limits

        def new_state() -> LuaVM:
            return LuaVM(None, host, host, log=log, memory_limit=memory, instruction_budget=budget)

        state = _admit(self._scope, self._limits, self._exclusive, new_state)
        view = _Tenant(state, self._code, host, scheduler, log)
        self._view = view
        code = self._code

        def load(vm: LuaVM) -> Any:
            vm.randomseed(host.info.seed)
            return vm.load_tenant_entry(code)

        try:
            with state.lock:
                view.tenant = state.vm.new_tenant()
            self._entry_fn = view.call(load)
        except BaseException:
            self.close()
            raise

    def start(self, args: list[JSONValue]) -> None:
        entry_fn, self._entry_fn = self._entry_fn, None
        self.vm.call(LuaVM.start_tenant, entry_fn, args)

    def result_of(self, values: tuple[Any, ...]) -> tuple[JSONValue, Failure | None]:
        return self.vm.state.vm.result_of(values)

    def failure_of(self, raised: Any) -> Failure:
        return self.vm.state.vm.failure_of(raised)

    def close(self) -> None:
        view, self._view = self._view, None
        if view is None:
            return
        with view.state.lock:
            vm = view.state.vm
            if vm.current is view:
                vm.vacate()  # nothing of this run stays reachable from the driver
        _leave(view.state)
