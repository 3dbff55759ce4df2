"""The node: every live PID of this runtime, the local router, names and relationships.

Function calls, host processes and Python-side mailboxes (supervisor, test runner, control
channel) all register here while they live. Sending, monitoring, linking, cancelling and
terminating a local PID go through :class:`Node`; so does the end of a process, which removes
its names first, then tells its monitors (EXIT) and then its links (LINK_DOWN, on an error
exit only), in that order (spec processes.md §3, §8.4, §8.6). Exit notices are queued and
delivered in a loop, so a long chain of linked processes failing one after the other does
not recurse.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from ..core.pid import PID, format_uniq, parse_pid
from ..core.scheduler import Delivery
from ..errors import INTERNAL, Failure, not_found
from .names import NameRegistry
from .proc import CANCEL, EXIT, LINK_DOWN, MAILBOX_LIMIT, terminated

#: A batch of process steps ends after this many steps or this long (then the loop gets a turn).
BATCH_STEPS = 512
BATCH_SECONDS = 0.002

if TYPE_CHECKING:
    from .events import EventBus
    from .hosts import ProcessHost


class Endpoint(Protocol):
    """Anything with a PID that takes deliveries (a :class:`~.proc.Proc` or a :class:`Mailbox`)."""

    pid: str
    monitors: set[str]
    links: set[str]
    finished: bool

    def deliver(self, delivery: Delivery) -> Failure | None: ...

    def doom(self, failure: Failure) -> None: ...


class Mailbox:
    """A PID served by Python code: the supervisor's hidden PIDs, the test runner, the control
    channel. Deliveries go to ``on_delivery``; it can monitor and be linked like a process."""

    def __init__(self, node: Node, host: str, on_delivery: Any) -> None:
        self.pid = node.new_pid(host)
        self.monitors: set[str] = set()
        self.links: set[str] = set()
        self.finished = False
        self.context: dict[str, Any] = {}
        self._node = node
        self._on_delivery = on_delivery
        node.procs[self.pid] = self

    def deliver(self, delivery: Delivery) -> Failure | None:
        if not self.finished:
            self._on_delivery(delivery)
        return None

    def doom(self, failure: Failure) -> None:
        self.close()

    def close(self) -> None:
        if not self.finished:
            self.finished = True
            self._node.exited(self)


class Node:
    """Live PIDs of this runtime and the rules between them."""

    def __init__(self, node: str = "local") -> None:
        self.node = node
        self.procs: dict[str, Endpoint] = {}
        self.names = NameRegistry()
        self.hosts: dict[str, ProcessHost] = {}
        self.events: EventBus | None = None
        self._uniq = itertools.count(1)
        self._pid_heads: dict[tuple[str, str], str] = {}
        self._notices: deque[tuple[str, Delivery, str]] = deque()
        self._draining = False
        # The thread whose loop serves the runtime; ops of calls running elsewhere are deferred.
        self.loop_ident = threading.get_ident()
        # The runtime's clock (an engine with a virtual clock replaces it: tests skip time).
        self.clock_ns: Callable[[], int] = time.time_ns
        self.mailbox_limit = MAILBOX_LIMIT
        # Host processes with something to do; run in batches from one loop callback (a message
        # hop between processes then costs no event-loop turn), a batch bounded for fairness.
        self._runnable: deque[Any] = deque()
        self._batch_scheduled = False

    def new_pid(self, host: str) -> str:
        # str(PID(node, host, format_uniq(n))) with the part before the uniq made once per host
        key = (self.node, host)
        head = self._pid_heads.get(key)
        if head is None:
            head = self._pid_heads[key] = str(PID(self.node, host, ""))[:-1]
        return head + format_uniq(next(self._uniq)) + "}"

    def next_uniq(self) -> int:
        return next(self._uniq)

    # -- running host processes ------------------------------------------------------------------

    def runnable(self, proc: Any) -> None:
        """``proc`` (a host process) should run its next step soon."""
        self._runnable.append(proc)
        if not self._batch_scheduled:
            self._batch_scheduled = True
            asyncio.get_running_loop().call_soon(self._run_batch)

    async def settled(self, limit_s: float = 1.0) -> None:
        """Return once no host process has a step pending (boot: services have started), or
        after ``limit_s``."""
        deadline = time.monotonic() + limit_s
        while (self._runnable or self._batch_scheduled) and time.monotonic() < deadline:
            await asyncio.sleep(0)

    def _run_batch(self) -> None:
        queue = self._runnable
        deadline = time.perf_counter() + BATCH_SECONDS
        steps = 0
        try:
            while queue:
                queue.popleft().step()
                steps += 1
                if steps >= BATCH_STEPS or time.perf_counter() > deadline:
                    break
        finally:
            if queue:
                asyncio.get_running_loop().call_soon(self._run_batch)
            else:
                self._batch_scheduled = False

    # -- delivery -------------------------------------------------------------------------------

    def deliver(self, pid: str, delivery: Delivery) -> bool:
        """Deliver to a live local PID (what engines use for a workflow's sends)."""
        target = self.procs.get(pid)
        if target is None:
            return False
        target.deliver(delivery)
        return True

    def route(self, pid: str, delivery: Delivery) -> Failure | None:
        """A send to a local PID: ``None`` when delivered (or dropped for an ended function
        call, as in Wippy), else why not."""
        target = self.procs.get(pid)
        if target is not None:
            return target.deliver(delivery)
        parsed = parse_pid(pid)
        if parsed is None:
            return Failure(f"could not resolve '{pid}' as PID or registered name", "NotFound", False)
        host = self.hosts.get(parsed.host)
        if host is not None:
            if not host.running:
                return Failure(f"host is not running: {parsed.host}", "Unavailable", False)
            return not_found("process not found")
        if self.is_function_host(parsed.host):
            return None  # the call has returned: messages to its PID are dropped
        return Failure(f"host not found: {parsed.host}", "NotFound", False)

    def is_function_host(self, host: str) -> bool:
        return False

    # -- relationships --------------------------------------------------------------------------

    def control(self, caller: Endpoint, pid: str, action: str, reason: Any = None) -> tuple[Any, ...]:
        """terminate / cancel / (un)monitor / (un)link of a local PID from ``caller``."""
        target = self.procs.get(pid)
        parsed = parse_pid(pid)
        host = self.hosts.get(parsed.host) if parsed is not None else None
        if action == "terminate" and host is not None and host.terminal:
            return (True, None)  # (code) terminating a terminal-host PID does nothing
        if action in ("unmonitor", "unlink"):
            if target is not None:
                if action == "unmonitor":
                    target.monitors.discard(caller.pid)
                else:
                    target.links.discard(caller.pid)
                    caller.links.discard(pid)
            return (True, None)
        if target is None or target.finished:
            if action == "cancel":
                return (None, not_found("process not found"))
            if host is None and not (parsed is not None and self.is_function_host(parsed.host)):
                return (None, Failure(f"{action} failed: host not found for {pid}", INTERNAL, None))
            what = "process not found" if action == "terminate" else "pid not registered"
            return (None, Failure(f"{action} failed: {what}", INTERNAL, None))
        if action == "terminate":
            target.doom(terminated())
        elif action == "cancel":
            text = reason if isinstance(reason, str) else ""
            event = {"kind": CANCEL, "from": caller.pid, "reason": text, "at": self.clock_ns() // 1_000_000_000}
            target.deliver(Delivery("@events", caller.pid, [], kind="event", data=event))
        elif action == "monitor":
            if caller.pid in target.monitors:
                return (None, Failure(f"monitor failed: already monitoring pid {pid}", INTERNAL, None))
            target.monitors.add(caller.pid)
        elif action == "link":
            target.links.add(caller.pid)
            caller.links.add(pid)
        return (True, None)

    def exited(self, proc: Endpoint) -> None:
        """``proc`` ended (its result/failure is set): names, then monitors, then links."""
        pid = proc.pid
        self.names.drop(pid)
        if self.procs.get(pid) is proc:
            del self.procs[pid]
        if self.events is not None:
            self.events.drop_owner(proc)
        if not proc.monitors and not proc.links:
            return  # nobody to tell (the common end of a short-lived process)
        failure: Failure | None = getattr(proc, "failure", None)
        value = getattr(proc, "result", None) if failure is None else None
        at = self.clock_ns() // 1_000_000_000
        result = {"value": value, "error": failure}
        for watcher in sorted(proc.monitors):
            self._notices.append((watcher, Delivery("@events", pid, [], kind="event", data={
                "kind": EXIT, "from": pid, "at": at, "result": result}), EXIT))  # fmt: skip
        proc.monitors = set()
        for peer in sorted(proc.links):
            self._notices.append((peer, Delivery("@events", pid, [], kind="event", data={
                "kind": LINK_DOWN, "from": pid, "at": at, "result": result}) if failure is not None else
                Delivery("", pid, []), LINK_DOWN))  # fmt: skip
        proc.links = set()
        self._drain()

    def _drain(self) -> None:
        if self._draining:
            return
        self._draining = True
        try:
            while self._notices:
                target_pid, delivery, kind = self._notices.popleft()
                target = self.procs.get(target_pid)
                if target is None:
                    continue
                if kind == LINK_DOWN:
                    target.links.discard(delivery.sender)
                    if not delivery.topic:
                        continue  # a normal exit just removes the link
                target.deliver(delivery)
        finally:
            self._draining = False
