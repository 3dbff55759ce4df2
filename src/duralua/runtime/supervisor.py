"""Supervision of ``process.service`` entries (spec processes.md §5).

Every service with ``lifecycle.auto_start: true`` starts at boot, after what it requires
(``lifecycle.requires``/``depends_on``, and the entries it references: its process host and,
transitively, their own requirements); services stop in the reverse order. The supervisor
watches each child from a hidden PID (EXIT events):

* a normal exit, or an error that says ``retryable = false`` (``return nil, "text"`` is one),
  is terminal: *Exited*;
* another error is *Failed* and restarts after a delay, ``max_attempts`` times at most (0 = no
  limit); a child that ran for ``stable_threshold`` before failing starts counting again;
* stopping sends CANCEL ("service stopping"), waits ``stop_timeout``, then terminates.

Docs vs code: Wippy's code builds a fresh backoff for every retry, so it always waits
``initial_delay``; duralua follows the docs: ``initial_delay * backoff_factor^(n-1)``, capped
at ``max_delay``, ± ``jitter`` (a fraction). Delays run on the runtime's clock (virtual in
tests). Each state change is one lifecycle event (``service.*``), so one log line.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import lifecycle as lc
from ..codec import JSONValue
from ..core.options import backoff_ns
from ..core.scheduler import Delivery
from ..durations import humanize_ns
from ..errors import Failure
from ..lifecycle import LifecycleBus, LifecycleEvent
from ..registry import Entry, Lifecycle, Registry
from .node import Mailbox
from .proc import CANCEL, EXIT, terminated

if TYPE_CHECKING:
    from .functions import FunctionRuntime

STATE_KINDS = {
    "starting": lc.SERVICE_STARTING,
    "running": lc.SERVICE_RUNNING,
    "failed": lc.SERVICE_FAILED,
    "exited": lc.SERVICE_EXITED,
    "stopping": lc.SERVICE_STOPPING,
    "stopped": lc.SERVICE_STOPPED,
}


def restart_delay_ns(policy: Any, attempt: int, rng: random.Random | None = None) -> int:
    """The wait before restart ``attempt`` (1-based), as the docs describe it."""
    base: float = backoff_ns(policy.initial_delay_ns, policy.backoff_factor, policy.max_delay_ns or 0, attempt)
    if policy.jitter:
        base *= (rng or random).uniform(1 - policy.jitter, 1 + policy.jitter)
    return max(int(base), 0)


@dataclass
class Service:
    entry: Entry
    lifecycle: Lifecycle
    process: str
    host: str
    args: list[JSONValue]
    state: str = "unknown"
    pid: str = ""
    attempts: int = 0  # restarts scheduled so far (since the last stable run)
    restarts: int = 0  # restarts done in total
    started_ns: int = 0
    last_error: str = ""
    gave_up: bool = False
    exit: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.entry.id, "state": self.state, "process": self.process, "host": self.host,
                "pid": self.pid, "restarts": self.restarts, "last_error": self.last_error,
                "gave_up": self.gave_up}  # fmt: skip


def _requires(entry: Entry) -> list[str]:
    refs = list(entry.lifecycle.requires)
    for key in ("host", "client", "process", "server", "storage"):
        value = entry.data.get(key)
        if isinstance(value, str) and ":" in value:
            refs.append(value)
    return refs


def start_order(registry: Registry, ids: list[str]) -> tuple[list[str], dict[str, str]]:
    """``ids`` in dependency order; the services caught in a cycle, with the cycle's text."""
    order: list[str] = []
    state: dict[str, int] = {}
    cyclic: dict[str, str] = {}
    wanted = set(ids)

    def visit(node: str, path: list[str]) -> None:
        mark = state.get(node)
        if mark == 2:
            return
        if mark == 1:
            cycle = [*path[path.index(node) :], node]
            text = " -> ".join(cycle)
            for item in cycle:
                if item in wanted:
                    cyclic.setdefault(item, text)
            return
        state[node] = 1
        entry = registry.entries.get(node)
        for dep in _requires(entry) if entry is not None else []:
            visit(dep, [*path, node])
        state[node] = 2
        if node in wanted:
            order.append(node)

    for sid in ids:
        visit(sid, [])
    return [s for s in order if s not in cyclic], cyclic


class Supervisor:
    """Keeps the app's auto-started services running."""

    def __init__(self, rt: FunctionRuntime, registry: Registry, events: LifecycleBus) -> None:
        self.rt = rt
        self.registry = registry
        self.events = events
        self.services: dict[str, Service] = {}
        self.order: list[str] = []
        self.rng = random.Random()
        self._stopping = False
        for entry in registry.entries.values():
            if entry.kind != "process.service":
                continue
            raw_args = entry.data.get("input")
            self.services[entry.id] = Service(entry, entry.lifecycle, str(entry.data.get("process", "")),
                                              str(entry.data.get("host", "")),
                                              list(raw_args) if isinstance(raw_args, list) else [])  # fmt: skip

    def _set(self, svc: Service, state: str, message: str = "", **data: Any) -> None:
        svc.state = state
        self.events.emit(LifecycleEvent(STATE_KINDS[state], subject=svc.entry.id, entry=svc.process, message=message,
                                        data={"pid": svc.pid, **data}, time_ns=self.rt.clock_ns()))  # fmt: skip

    async def start(self) -> None:
        auto = [sid for sid, s in self.services.items() if s.lifecycle.auto_start]
        self.order, cyclic = start_order(self.registry, auto)
        for sid, text in cyclic.items():
            svc = self.services[sid]
            svc.last_error = f"dependency cycle between services: {text}"
            svc.gave_up = True
            self._set(svc, "failed", svc.last_error, final=True)
        for sid in self.order:
            svc = self.services[sid]
            svc.task = asyncio.get_running_loop().create_task(self._keep(svc), name=f"service {sid}")
            # The next service starts once this one runs (or has given up starting).
            waited = 0
            while svc.state in ("unknown", "starting") and waited < 1000:
                await asyncio.sleep(0)
                waited += 1

    async def _keep(self, svc: Service) -> None:
        while not self._stopping:
            outcome = await self._run_once(svc)
            if outcome is None or self._stopping:
                return
            value, failure, ran_ns = outcome
            if failure is None:
                self._set(svc, "exited", "exited normally", result=value)
                return
            svc.last_error = str(failure)
            if failure.retryable is False:
                self._set(svc, "exited", f"{failure} (not retryable: not restarted)", final=True)
                return
            policy = svc.lifecycle.restart
            if svc.lifecycle.stable_threshold_ns and ran_ns >= svc.lifecycle.stable_threshold_ns:
                svc.attempts = 0
            svc.attempts += 1
            if policy.max_attempts and svc.attempts > policy.max_attempts:
                svc.gave_up = True
                self._set(svc, "failed", f"{failure}; gave up after {policy.max_attempts} restarts", final=True)
                return
            delay = restart_delay_ns(policy, svc.attempts, self.rng)
            limit = f"/{policy.max_attempts}" if policy.max_attempts else ""
            self._set(svc, "failed", f"{failure}; restart {svc.attempts}{limit} in {humanize_ns(delay)}",
                      attempt=svc.attempts, delay_ns=delay)  # fmt: skip
            await self.rt.sleep_ns(delay)
            svc.restarts += 1

    async def _run_once(self, svc: Service) -> tuple[JSONValue, Failure | None, int] | None:
        """Start the child and wait for its exit; None when stopping or it cannot start."""
        self._set(svc, "starting", f"attempt {svc.restarts + 1}" if svc.restarts else "")
        svc.exit = asyncio.Event()
        box: dict[str, Any] = {}

        def on_delivery(d: Delivery) -> None:
            if isinstance(d.data, dict) and d.data.get("kind") == EXIT and d.sender == svc.pid:
                box["result"] = d.data.get("result") or {}
                svc.exit.set()

        watcher = Mailbox(self.rt, "supervisor", on_delivery)
        host = self.rt.hosts.get(svc.host)
        failure: Failure | None
        if host is None:
            child, failure = None, Failure(f"host {svc.host} is not a running process host", "NotFound", False)
        else:
            child, failure = host.spawn(svc.process, list(svc.args), {}, parent=watcher.pid, monitor=True)
        if failure is not None or child is None:
            watcher.close()
            failure = failure or Failure("the service's process could not be started", "Internal", None)
            svc.last_error = str(failure)
            return None, failure, 0
        svc.pid = child.pid
        svc.started_ns = self.rt.clock_ns()
        self._set(svc, "running", f"as {child.pid}")
        try:
            await svc.exit.wait()
        finally:
            watcher.close()
        result = box.get("result", {})
        error = result.get("error")
        ran = self.rt.clock_ns() - svc.started_ns
        if self._stopping:
            return None
        if isinstance(error, Failure):
            return None, error, ran
        return result.get("value"), None, ran

    async def stop(self) -> None:
        """Stop services in the reverse start order: CANCEL, ``stop_timeout``, terminate."""
        self._stopping = True
        for sid in reversed(self.order):
            svc = self.services[sid]
            proc = self.rt.procs.get(svc.pid) if svc.pid else None
            if proc is not None and not proc.finished and svc.state == "running":
                self._set(svc, "stopping", "service stopping")
                proc.deliver(Delivery("@events", "", [], kind="event", data={
                    "kind": CANCEL, "from": "", "reason": "service stopping",
                    "at": self.rt.clock_ns() // 1_000_000_000}))  # fmt: skip
                try:
                    await asyncio.wait_for(svc.exit.wait(), svc.lifecycle.stop_timeout_ns / 1e9)
                except TimeoutError:
                    proc.doom(terminated())
                self._set(svc, "stopped", "")
            if svc.task is not None and not svc.task.done():
                svc.task.cancel()
                try:
                    await svc.task
                except (asyncio.CancelledError, Exception):
                    pass

    def list(self) -> list[dict[str, Any]]:
        ordered = [*self.order, *[s for s in self.services if s not in self.order]]
        return [self.services[s].to_json() for s in ordered]
