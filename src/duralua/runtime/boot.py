"""Booting the runtime around an app: process hosts, supervised services, the control channel.

:func:`configure` prepares a :class:`~.functions.FunctionRuntime` for an app once (its process
entries, hosts, event bus, env store, registry module); :class:`RuntimeServices` is what
``duralua run`` (and ``duralua test``, commands, :meth:`duralua.App.serve_runtime`) start
after the engine: hosts first, then the services in dependency order, then the control
channel; stopping goes the other way. Processes are not durable: stopping the runtime ends
them.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import CallError, Failure
from ..lifecycle import LifecycleBus
from . import modules as _modules  # registers the runtime modules' host ops
from .control import ControlServer, socket_path
from .envstore import build_env
from .events import EventBus
from .hosts import ProcessHost
from .supervisor import Supervisor

if TYPE_CHECKING:
    from ..catalog import Catalog
    from ..registry import Entry, Registry
    from .functions import FunctionRuntime

del _modules

HOST_KINDS = ("process.host", "terminal.host")
#: Live processes a snapshot lists at most (it still counts them all).
SNAPSHOT_PROCESSES = 500


def explicit_auto_start(entry: Entry) -> bool:
    """Hosts run unless their lifecycle says ``auto_start: false`` (an absent block means on)."""
    raw = entry.data.get("lifecycle")
    return not (isinstance(raw, dict) and raw.get("auto_start") is False)


def configure(rt: FunctionRuntime, registry: Registry, catalog: Catalog) -> None:
    rt.registry = registry
    rt.events = EventBus()
    rt.services["env"] = build_env(registry)
    for entry in registry.entries.values():
        if entry.kind == "process.lua":
            rt.process_codes[entry.id] = catalog.code_of(entry.id)
        elif entry.kind in HOST_KINDS:
            host = entry.data.get("host")
            limit = host.get("max_processes") if isinstance(host, dict) else None
            rt.hosts[entry.id] = ProcessHost(
                rt, entry.id, terminal=entry.kind == "terminal.host",
                max_processes=limit if isinstance(limit, int) and not isinstance(limit, bool) else 0,
                auto_start=explicit_auto_start(entry),
            )  # fmt: skip


class RuntimeServices:
    """Hosts, supervisor and control channel of one app (``async with``)."""

    def __init__(self, rt: FunctionRuntime, registry: Registry, events: LifecycleBus, *,
                 control: str | Path | None = None, services: bool = True, root: str = "",
                 notify: Any = None) -> None:  # fmt: skip
        self.rt = rt
        self.registry = registry
        self.supervisor = Supervisor(rt, registry, events)
        self.control_path = socket_path(control) if control is not None else None
        self.control: ControlServer | None = None
        self.with_services = services
        self.root = root
        self.notify = notify
        self._started_hosts: list[ProcessHost] = []

    async def __aenter__(self) -> RuntimeServices:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        self.rt.loop_ident = threading.get_ident()
        self.rt.booted = self
        for host in self.rt.hosts.values():
            if host.auto_start and not host.running:
                host.start()
                self._started_hosts.append(host)
        if self.with_services:
            await self.supervisor.start()
            await self.rt.settled()  # the services' first steps ran (names registered...)
        if self.control_path is not None:
            server = ControlServer(self.control_path, self.handle)
            if await server.start():
                self.control = server
            elif self.notify is not None:
                self.notify(server.note)

    async def stop(self) -> None:
        if self.control is not None:
            await self.control.stop()
            self.control = None
        await self.supervisor.stop()
        hosts, self._started_hosts = self._started_hosts, []
        for host in reversed(hosts):
            await host.stop()
        if self.rt.booted is self:
            self.rt.booted = None

    def snapshot(self, limit: int = SNAPSHOT_PROCESSES) -> dict[str, Any]:
        """Services, hosts and live processes, as the UI's Services page and the control
        channel's ``runtime`` op show them. Call it on the runtime's loop: the tables change there."""
        sup = self.supervisor
        services = []
        service_of: dict[str, str] = {}
        for row in sup.list():
            svc = sup.services[row["id"]]
            services.append({**row, "attempts": svc.attempts, "max_attempts": svc.lifecycle.restart.max_attempts,
                             "auto_start": svc.lifecycle.auto_start, "started_ns": svc.started_ns or None})  # fmt: skip
            if svc.pid and svc.state in ("running", "stopping"):
                service_of[svc.pid] = svc.entry.id
        processes: list[dict[str, Any]] = []
        total = 0
        for host in self.rt.hosts.values():
            total += len(host.live)
            for proc in list(host.live.values())[: max(limit - len(processes), 0)]:
                names = self.rt.names.names_of(proc.pid)
                processes.append({"pid": proc.pid, "entry": proc.entry_id, "host": host.id, "names": names,
                                  "service": service_of.get(proc.pid, "")})  # fmt: skip
        return {"node": self.rt.node, "app": self.root, "services": services,
                "hosts": [h.describe() for h in self.rt.hosts.values()], "processes": processes,
                "total_processes": total}  # fmt: skip

    async def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        if op == "ping":
            return {"ok": True, "pid": os.getpid(), "app": self.root}
        if op == "call":
            entry = request.get("entry")
            args = request.get("args") or []
            if not isinstance(entry, str) or not isinstance(args, list):
                return {"error": {"message": "call needs an entry id and a list of arguments", "kind": "Invalid"}}
            context = request.get("context")
            try:
                result = await self.rt.acall(entry, args, context if isinstance(context, dict) else None)
            except CallError as exc:
                return {"error": exc.failure.to_json(), "known": entry in self.rt.functions}
            return {"result": result}
        if op == "services":
            return {"services": self.supervisor.list()}
        if op == "hosts":
            return {"hosts": [h.describe() for h in self.rt.hosts.values()]}
        if op == "runtime":
            limit = request.get("limit")
            return {"runtime": self.snapshot(limit if isinstance(limit, int) and limit >= 0 else SNAPSHOT_PROCESSES)}
        return {"error": Failure(f"unknown control op {op!r}", "Invalid", False).to_json()}
