"""The engine protocol: what callers (functions, CLI, Python API) need from a workflow engine.

Both engines (embedded SQLite, Temporal) implement it, so ``process.spawn`` in a Lua
function, ``duralua workflow start`` and ``App.start`` behave the same on either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from .codec import JSONValue
from .errors import Failure


@dataclass
class StartRequest:
    workflow_type: str  # the workflow entry id
    worker_id: str
    args: list[JSONValue] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)  # parsed workflow options
    context: dict[str, Any] = field(default_factory=dict)
    workflow_id: str | None = None
    messages: list[tuple[str, list[JSONValue]]] = field(default_factory=list)
    sender: str = ""


@dataclass
class RunSummary:
    workflow_id: str
    run_id: str
    workflow_type: str
    status: str  # running | completed | failed | terminated | canceled | continued | held
    pid: str
    task_queue: str
    start_time_ns: int
    close_time_ns: int | None = None
    reason: str = ""  # why a run is held (non-determinism, budget...) or failed
    search: dict[str, Any] = field(default_factory=dict)
    memo: dict[str, Any] = field(default_factory=dict)
    result: JSONValue = None
    failure: Failure | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "workflow_id": self.workflow_id,
            "run_id": self.run_id,
            "workflow_type": self.workflow_type,
            "status": self.status,
            "pid": self.pid,
            "task_queue": self.task_queue,
            "start_time_ns": self.start_time_ns,
            "close_time_ns": self.close_time_ns,
            "reason": self.reason,
            "search": self.search,
            "memo": self.memo,
            "result": self.result,
            "failure": self.failure.to_json() if self.failure else None,
        }


class Engine(Protocol):
    """A durable workflow engine as seen by callers."""

    async def start_workflow(self, request: StartRequest) -> str:
        """Start (or, per the conflict policy, join) a run; return its PID. Raises CallError."""
        ...

    async def signal(self, pid: str, topic: str, payloads: list[JSONValue], sender: str = "") -> None:
        """Deliver a message to the workflow's mailbox. Raises CallError (NotFound...)."""
        ...

    async def result(self, pid: str) -> tuple[JSONValue, Failure | None]:
        """Wait for the run's outcome: (value, None) or (None, failure)."""
        ...

    async def terminate(self, pid: str, reason: str = "") -> None: ...

    async def cancel(self, pid: str) -> None: ...

    async def describe(self, pid_or_id: str) -> RunSummary: ...

    async def list_runs(
        self,
        *,
        status: str | None = None,
        workflow_type: str | None = None,
        query: dict[str, Any] | None = None,
    ) -> list[RunSummary]: ...

    def owns(self, pid: str) -> bool:
        """True if this PID names a workflow of this engine (so a send becomes a signal)."""
        ...
