"""``process.host`` and ``terminal.host``: where long-lived ``process.lua`` processes run.

A host spawns processes (spec processes.md §3, §6, §8): it assigns a PID ``{node@host|0x…}``,
registers a ``with_name`` name atomically (spawn-or-signal), sets up the spawner's link and
monitor before the child's first instruction, queues the startup messages, and starts ``main``
with the arguments on the next turn of the event loop. ``host.max_processes`` (a duralua
extension; Wippy ignores it) limits its live processes.

Processes are not durable: they live in memory and die with the runtime.

Memory: a Lua state costs ~600 KB, so processes do not get one each. A host keeps a few
shared states and admits up to ``TENANTS`` processes into each: every process has its own
globals, modules, entry chunk and coroutines there (the driver switches the per-process
state before each step, see ``lua/driver.lua``), so one idle process costs a few KB. A state
whose budget or memory limit was hit admits no one new; it goes when its last process ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..codec import JSONValue
from ..core.scheduler import Delivery, Scheduler
from ..errors import INTERNAL, EncodeError, Failure, LuaError, MemoryLimitExceeded, not_found
from ..errors import BudgetExceeded as _Budget
from ..lua.process import EntryCode, LuaVM
from .proc import Proc, ProcVM, terminated

if TYPE_CHECKING:
    from .functions import FunctionRuntime

#: Processes admitted into one shared Lua state.
TENANTS = 256


class SharedState:
    """One Lua state that serves several processes in turn."""

    __slots__ = ("live", "vm")

    def __init__(self, vm: LuaVM) -> None:
        self.vm = vm
        self.live = 0


class ProcessHost:
    """A running ``process.host`` (or ``terminal.host``) entry."""

    def __init__(self, rt: FunctionRuntime, entry_id: str, *, terminal: bool = False,
                 max_processes: int = 0, auto_start: bool = True) -> None:  # fmt: skip
        self.rt = rt
        self.id = entry_id
        self.terminal = terminal
        self.max_processes = max_processes
        self.auto_start = auto_start
        self.state = "stopped"  # stopped | running | stopping
        self.live: dict[str, LuaProcess] = {}
        self._states: list[SharedState] = []
        self.spawned = 0

    @property
    def running(self) -> bool:
        return self.state == "running"

    def start(self) -> None:
        self.state = "running"

    async def stop(self) -> None:
        """Refuse new spawns, then terminate what still runs (processes are not durable)."""
        self.state = "stopping"
        for proc in list(self.live.values()):
            proc.doom(terminated())
        await asyncio.sleep(0)
        self.state = "stopped"
        self._states.clear()

    # -- spawning -------------------------------------------------------------------------------

    def spawn(
        self,
        entry_id: str,
        args: list[JSONValue],
        context: dict[str, Any],
        *,
        parent: str = "",
        monitor: bool = False,
        link: bool = False,
        name: str | None = None,
        messages: list[tuple[str, list[JSONValue]]] | None = None,
        terminal: Any = None,
    ) -> tuple[Any, Failure | None]:
        """Start ``entry_id`` here; the new (or, with ``name``, the existing) process."""
        if self.state == "stopping":
            return None, Failure("host is shutting down", "Unavailable", False)
        if self.state != "running":
            return None, Failure(f"host is not running: {self.id}", "Unavailable", False)
        rt = self.rt
        code = rt.process_codes.get(entry_id)
        if code is None:
            return None, not_found(f"process entry {entry_id} not found (spawn needs a process.lua entry)")
        if name is not None:
            holder = rt.names.lookup(name)
            existing = rt.procs.get(holder) if holder is not None else None
            if existing is not None and not existing.finished:
                # spawn-or-signal: the holder gets the startup messages, its PID is the answer
                for topic, payloads in messages or []:
                    existing.deliver(Delivery(topic, parent, list(payloads)))
                self._relate(existing, parent, monitor, link)
                return existing, None
        if self.max_processes and len(self.live) >= self.max_processes:
            return None, Failure("max processes limit exceeded", "LimitExceeded", False)
        proc = LuaProcess(self, code, args, context)
        proc.terminal = terminal
        if name is not None:
            failure = rt.names.register(name, proc.pid)
            if failure is not None:
                return None, failure
        rt.procs[proc.pid] = proc
        self.live[proc.pid] = proc
        self.spawned += 1
        self._relate(proc, parent, monitor, link)
        for topic, payloads in messages or []:
            proc.queue(Delivery(topic, parent, list(payloads)))
        self.rt.runnable(proc)  # its first step boots it
        return proc, None

    def _relate(self, proc: Any, parent: str, monitor: bool, link: bool) -> None:
        if not parent:
            return
        if monitor:
            proc.monitors.add(parent)
        if link:
            proc.links.add(parent)
            other = self.rt.procs.get(parent)
            if other is not None:
                other.links.add(proc.pid)

    # -- shared Lua states ----------------------------------------------------------------------

    def admit(self) -> SharedState:
        for state in self._states:
            if state.live < TENANTS and not state.vm.poisoned:
                state.live += 1
                return state
        memory, budget = self.rt.limits
        vm = LuaVM(None, self.rt.host_context(), _NOBODY, log=self.rt.log, memory_limit=memory,
                   instruction_budget=budget)  # fmt: skip
        state = SharedState(vm)
        self._states.append(state)
        state.live += 1
        return state

    def leave(self, state: SharedState) -> None:
        state.live -= 1
        if state.live <= 0 and (state.vm.poisoned or sum(1 for s in self._states if s.live == 0) > 1):
            self._states.remove(state)

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "state": self.state, "processes": len(self.live), "terminal": self.terminal,
                "lua_states": len(self._states)}  # fmt: skip


class _Nobody:
    pid = ""
    context: dict[str, Any] = {}


_NOBODY = _Nobody()


class LuaProcess(Proc):
    """A ``process.lua`` process on a host: driven by the event loop until ``main`` returns."""

    __slots__ = ("_loop", "_scheduled", "_state", "args", "code", "host")

    def __init__(self, host: ProcessHost, code: EntryCode, args: list[JSONValue], context: dict[str, Any]) -> None:
        super().__init__(host.rt, host.rt.new_pid(host.id), code.entry_id, context)
        self.host = host
        self.code = code
        self.args = args
        self._state: SharedState | None = None
        self._scheduled = False
        self._loop = asyncio.get_running_loop()
        sched = Scheduler(None, self._on_op)
        self._sched = sched

    def queue(self, delivery: Delivery) -> None:
        assert self._sched is not None
        self._sched.deliver(delivery)

    def boot(self) -> None:
        """Load the entry into a shared state and run ``main`` until it blocks."""
        if self.finished or self._sched is None:
            return
        state = self.host.admit()
        self._state = state
        vm = state.vm
        view = ProcVM(self, vm)
        self._view = view
        sched = self._sched
        sched.attach(view)
        try:
            vm.switch(None, view, self, sched, lua=False)  # the state's callbacks serve this process
            tenant = vm.boot_tenant(self.code, self.args)
            if tenant is None:
                tenant = vm.new_tenant()
                vm.switch(tenant, view, self, sched)
                vm.start_tenant(vm.load_tenant_entry(self.code), self.args)
            view.tenant = tenant
        except (_Budget, MemoryLimitExceeded) as exc:
            vm.poisoned = True
            self._fail(Failure(f"{self.entry_id} could not start: {exc}", INTERNAL, False))
            return
        except LuaError as exc:
            self._fail(Failure(str(exc), INTERNAL, False))
            return
        except EncodeError as exc:
            self._fail(Failure(str(exc), "Invalid", False))
            return
        except Exception as exc:  # whatever loading did, this process fails, not its host
            self._fail(Failure(f"{self.entry_id} could not start: {type(exc).__name__}: {exc}", INTERNAL, False))
            return
        self._run()

    def _kick(self) -> None:
        if not self._scheduled and not self.finished and self._view is not None:
            self._scheduled = True
            self.rt.runnable(self)

    def step(self) -> None:
        self._scheduled = False
        if self._view is None:
            self.boot()
        else:
            self._run()

    def _later(self, make: Callable[[], Any]) -> None:
        self._spawn(make())

    def _soon(self, fn: Callable[[], None]) -> None:
        self._loop.call_soon(fn)

    def _release(self, reusable: bool) -> None:
        self.host.live.pop(self.pid, None)
        state, self._state = self._state, None
        if state is not None:
            if not reusable:
                state.vm.poisoned = True
            self.host.leave(state)
