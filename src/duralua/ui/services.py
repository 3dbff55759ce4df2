"""What the Services page shows: the supervised services and live processes of a running app.

Processes are not durable, so the database knows nothing of them; they are read from the
runtime that runs them:

* :class:`LocalRuntime` — ``duralua run --ui``: the runtime of this process, read on its own
  event loop (its tables change there; the snapshot is one short callback, the UI waits for it);
* :class:`ControlRuntime` — ``duralua ui --db``: the ``runtime`` op of the control channel of
  the ``duralua run`` that serves the database, if one does (the socket ``duralua service
  list`` uses); without one the page says that services live in a running app.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..runtime.control import ControlUnavailable, request, socket_path

SNAPSHOT_TIMEOUT = 5.0
STATE_NAMES = {"unknown": "Not started"}  # the others show as the state, capitalized


@dataclass
class ServiceRow:
    id: str
    state: str
    process: str
    host: str
    pid: str
    restarts: int
    attempts: int
    max_attempts: int
    last_error: str
    gave_up: bool
    auto_start: bool
    started_ns: int | None

    @property
    def state_name(self) -> str:
        return STATE_NAMES.get(self.state, self.state.capitalize())


@dataclass
class ProcessRow:
    pid: str
    entry: str
    host: str
    names: list[str]
    service: str


@dataclass
class HostRow:
    id: str
    state: str
    processes: int
    lua_states: int
    terminal: bool


@dataclass
class RuntimeView:
    """One reading of a runtime; ``problem`` says why there is none (then the lists are empty)."""

    source: str  # "this process" or the control socket's path
    problem: str = ""
    app: str = ""
    services: list[ServiceRow] = field(default_factory=list)
    hosts: list[HostRow] = field(default_factory=list)
    processes: list[ProcessRow] = field(default_factory=list)
    total_processes: int = 0

    @property
    def shown_all(self) -> bool:
        return len(self.processes) >= self.total_processes


class RuntimeSource(Protocol):
    async def read(self) -> RuntimeView: ...


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def view_of(snapshot: dict[str, Any], source: str) -> RuntimeView:
    """Rows from a snapshot (:meth:`duralua.runtime.boot.RuntimeServices.snapshot`); from the
    control channel it is another program's JSON, so every field is checked, none trusted."""
    services = [
        ServiceRow(id=_str(s.get("id")), state=_str(s.get("state")) or "unknown", process=_str(s.get("process")),
                   host=_str(s.get("host")), pid=_str(s.get("pid")), restarts=_int(s.get("restarts")),
                   attempts=_int(s.get("attempts")), max_attempts=_int(s.get("max_attempts")),
                   last_error=_str(s.get("last_error")), gave_up=s.get("gave_up") is True,
                   auto_start=s.get("auto_start") is not False,
                   started_ns=_int(s.get("started_ns"), 0) or None)
        for s in snapshot.get("services") or [] if isinstance(s, dict)
    ]  # fmt: skip
    hosts = [
        HostRow(id=_str(h.get("id")), state=_str(h.get("state")), processes=_int(h.get("processes")),
                lua_states=_int(h.get("lua_states")), terminal=h.get("terminal") is True)
        for h in snapshot.get("hosts") or [] if isinstance(h, dict)
    ]  # fmt: skip
    processes = [
        ProcessRow(pid=_str(p.get("pid")), entry=_str(p.get("entry")), host=_str(p.get("host")),
                   names=[n for n in p.get("names") or [] if isinstance(n, str)], service=_str(p.get("service")))
        for p in snapshot.get("processes") or [] if isinstance(p, dict)
    ]  # fmt: skip
    total = _int(snapshot.get("total_processes"), len(processes))
    return RuntimeView(source=source, app=_str(snapshot.get("app")), services=services, hosts=hosts,
                       processes=processes, total_processes=total)  # fmt: skip


class LocalRuntime:
    """The runtime of this process (``duralua run --ui``)."""

    def __init__(self, runtime: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.runtime = runtime  # a FunctionRuntime; its ``booted`` is set while hosts and services run
        self.loop = loop

    async def _take(self) -> dict[str, Any] | None:
        booted = self.runtime.booted
        return booted.snapshot() if booted is not None else None

    async def read(self) -> RuntimeView:
        take = self._take()
        try:
            future = asyncio.run_coroutine_threadsafe(take, self.loop)
        except RuntimeError:  # the app's loop is closed: it is stopping
            take.close()
            return RuntimeView("this process", problem="the app is stopping")
        try:
            snapshot = await asyncio.wait_for(asyncio.wrap_future(future), SNAPSHOT_TIMEOUT)
        except TimeoutError:
            future.cancel()
            return RuntimeView("this process", problem=f"the app did not answer within {SNAPSHOT_TIMEOUT:g} s")
        if snapshot is None:
            return RuntimeView("this process", problem="the app's process hosts and services are not running "
                                                       "(they start right after the engine)")  # fmt: skip
        return view_of(snapshot, "this process")


class ControlRuntime:
    """The runtime of the ``duralua run`` serving a database, through its control channel."""

    def __init__(self, db_path: str | Path) -> None:
        self.db_path = Path(db_path)
        self.path = socket_path(db_path)

    async def read(self) -> RuntimeView:
        source = str(self.path)
        try:
            answer = await asyncio.to_thread(request, self.path, {"op": "runtime"}, SNAPSHOT_TIMEOUT)
        except ControlUnavailable:
            return RuntimeView(source, problem=f"services and processes live in a running app, and no `duralua run` "
                                               f"serves {self.db_path} (nothing answers on {self.path})")  # fmt: skip
        except (TimeoutError, OSError, ValueError) as exc:
            return RuntimeView(source, problem=f"the running app's control channel failed: {exc}")
        snapshot = answer.get("runtime")
        if not isinstance(snapshot, dict):
            error = answer.get("error")
            text = error.get("message") if isinstance(error, dict) else None
            return RuntimeView(source, problem=f"the running app cannot list its processes: {text or 'no answer'}")
        return view_of(snapshot, source)
