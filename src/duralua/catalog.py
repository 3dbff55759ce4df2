"""What an app offers at run time, derived once from the registry.

Engines and the function runtime read this instead of raw registry entries: workers and
their task queues, workflow types, which functions are activities on which worker, and the
Lua code of every entry (with its imports resolved).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError, Location
from .lua.process import EntryCode
from .registry import Entry, Registry, activity_is_local, activity_worker, workflow_type_name, workflow_worker

LUA_KINDS = ("function.lua", "process.lua", "workflow.lua", "library.lua")


@dataclass
class WorkerDef:
    id: str
    client_id: str
    task_queue: str
    namespace: str = "default"
    workflows: set[str] = field(default_factory=set)
    activities: set[str] = field(default_factory=set)
    local_activities: set[str] = field(default_factory=set)


@dataclass
class WorkflowDef:
    entry_id: str
    type_name: str
    worker_id: str
    code: EntryCode


class Catalog:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.workers: dict[str, WorkerDef] = {}
        self.queues: dict[str, WorkerDef] = {}
        self.workflows: dict[str, WorkflowDef] = {}
        self.function_options: dict[str, dict[str, Any]] = {}
        self._codes: dict[str, EntryCode] = {}
        self._resolving: list[str] = []
        self._build()

    def _build(self) -> None:
        reg = self.registry
        for entry in reg.entries.values():
            if entry.kind == "temporal.worker":
                client_id = str(entry.data.get("client", ""))
                client = reg.entries.get(client_id)
                prefix = str(client.data.get("tq_prefix", "") or "") if client else ""
                namespace = str(client.data.get("namespace", "default") or "default") if client else "default"
                worker = WorkerDef(entry.id, client_id, prefix + str(entry.data.get("task_queue", "")), namespace)
                self.workers[entry.id] = worker
                self.queues.setdefault(worker.task_queue, worker)
        for entry in reg.entries.values():
            if entry.kind == "workflow.lua":
                worker_id = workflow_worker(entry)
                if worker_id and worker_id in self.workers:
                    self.workflows[entry.id] = WorkflowDef(
                        entry.id, workflow_type_name(entry), worker_id, self.code_of(entry.id)
                    )
                    self.workers[worker_id].workflows.add(entry.id)
            elif entry.kind.startswith(("function.", "process.")):
                options = entry.meta.get("options")
                if isinstance(options, dict):
                    self.function_options[entry.id] = dict(options)
                worker_id = activity_worker(entry)
                if worker_id and worker_id in self.workers:
                    self.workers[worker_id].activities.add(entry.id)
                    if activity_is_local(entry):
                        self.workers[worker_id].local_activities.add(entry.id)

    def code_of(self, entry_id: str) -> EntryCode:
        cached = self._codes.get(entry_id)
        if cached is not None:
            return cached
        entry = self.registry.entries.get(entry_id)
        if entry is None or entry.kind not in LUA_KINDS:
            raise ConfigError(f"{entry_id} is not a Lua entry", location=Location(entry=entry_id))
        code = EntryCode(
            entry_id=entry.id,
            source=entry.source or "",
            chunkname=_chunkname(entry),
            method=None if entry.kind == "library.lua" else (entry.method or "main"),
            modules=list(entry.modules),
            first_line=1 if entry.source_file else (entry.source_line or entry.line),
        )
        self._codes[entry_id] = code
        self._resolving.append(entry_id)
        try:
            for alias, target in entry.imports.items():
                if target in self._resolving:
                    # The loader reports cycles; this guards registries built without it, since
                    # the Lua loader would recurse on a cyclic graph until the C stack overflows.
                    chain = " imports ".join([*self._resolving[self._resolving.index(target) :], target])
                    raise ConfigError(f"import cycle: {chain}", location=Location(entry=entry_id))
                code.imports[alias] = self.code_of(target)
        except ConfigError:
            self._codes.pop(entry_id, None)  # never hand out a half-resolved entry later
            raise
        finally:
            self._resolving.pop()
        return code

    def activity_defaults(self, target: str) -> dict[str, Any]:
        return self.function_options.get(target, {})

    def worker_for_queue(self, task_queue: str) -> WorkerDef | None:
        return self.queues.get(task_queue)

    def lua_functions(self) -> list[Entry]:
        return [e for e in self.registry.entries.values() if e.kind in ("function.lua", "process.lua")]


def _chunkname(entry: Entry) -> str:
    if entry.source_file:
        return "@" + entry.source_file
    return "@" + entry.file
