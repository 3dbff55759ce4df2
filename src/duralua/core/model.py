"""Commands, jobs and activations: the vocabulary between the workflow machine and engines.

A *command* is what the workflow asks for, numbered by a per-run ``seq`` in issue order.
A *job* is something that happened and is fed back into the workflow. An *activation* is
one step: a batch of jobs at one workflow-clock instant. Everything here is plain data that
serialises to JSON dicts (``to_json``/``from_json``) so engines can store it as history.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from ..codec import JSONValue
from ..errors import Failure


def _dump(value: Any) -> Any:
    if isinstance(value, Failure):
        return {"__error": value.to_json()}
    return value


def _load(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1 and "__error" in value:
        return Failure.from_json(value["__error"])
    return value


# Field names by record class: dataclasses.fields() is slow and history encoding/decoding
# (every activation, every replay) calls this for each job and command.
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


class _Record:
    type: ClassVar[str]
    # builtins.type: inside the class body ``type`` names the ClassVar above.
    registry: ClassVar[dict[str, builtins.type[_Record]]]

    def to_json(self) -> dict[str, Any]:
        out = {"type": self.type}
        for name in _field_names(type(self)):
            out[name] = _dump(getattr(self, name))
        return out


def _from_json(registry: dict[str, type[Any]], data: dict[str, Any]) -> Any:
    cls = registry[data["type"]]
    kwargs = {name: _load(data[name]) for name in _field_names(cls) if name in data}
    return cls(**kwargs)


def _copy_json(value: Any) -> Any:
    """A copy of nested dicts and lists (what ``asdict`` did for the context, much faster)."""
    if isinstance(value, dict):
        return {k: _copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy_json(v) for v in value]
    return value


# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------


@dataclass
class Command(_Record):
    seq: int

    def identity(self) -> str:
        """What replay compares: the command kind and its name (activity type, ...)."""
        return self.type


@dataclass
class ScheduleActivity(Command):
    type: ClassVar[str] = "ScheduleActivity"
    activity_type: str = ""
    args: list[JSONValue] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)

    def identity(self) -> str:
        return f"ScheduleActivity({self.activity_type})"


@dataclass
class RequestCancelActivity(Command):
    type: ClassVar[str] = "RequestCancelActivity"
    target_seq: int = 0

    def identity(self) -> str:
        return f"RequestCancelActivity(#{self.target_seq})"


@dataclass
class StartTimer(Command):
    type: ClassVar[str] = "StartTimer"
    duration_ns: int = 0

    def identity(self) -> str:
        return "StartTimer"


@dataclass
class StartChild(Command):
    type: ClassVar[str] = "StartChild"
    workflow_type: str = ""
    workflow_id: str = ""
    task_queue: str = ""
    args: list[JSONValue] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    wait: bool = False  # True for exec (the caller waits for the result)

    def identity(self) -> str:
        return f"StartChild({self.workflow_type})"


@dataclass
class SignalExternal(Command):
    type: ClassVar[str] = "SignalExternal"
    workflow_id: str = ""
    topic: str = ""
    payloads: list[JSONValue] = field(default_factory=list)
    sender: str = ""

    def identity(self) -> str:
        return f"SignalExternal({self.topic})"


@dataclass
class CancelExternal(Command):
    type: ClassVar[str] = "CancelExternal"
    workflow_id: str = ""


@dataclass
class SendLocal(Command):
    """``process.send`` to a non-workflow PID: done once, on first execution only."""

    type: ClassVar[str] = "SendLocal"
    target: str = ""
    topic: str = ""
    payloads: list[JSONValue] = field(default_factory=list)
    sender: str = ""

    def identity(self) -> str:
        return f"SendLocal({self.topic})"


@dataclass
class UpdateReply(Command):
    """The workflow's answer to an update (spec workflows.md §7.6): ``ack``/``nak`` first, then
    ``ok``/``error``. ``value`` is the result (``ok``) or the message (``nak``/``error``)."""

    type: ClassVar[str] = "UpdateReply"
    update_id: str = ""
    topic: str = ""
    value: JSONValue = None

    def identity(self) -> str:
        return f"UpdateReply({self.topic})"


@dataclass
class RecordMarker(Command):
    type: ClassVar[str] = "RecordMarker"
    name: str = ""
    value: JSONValue = None

    def identity(self) -> str:
        return f"RecordMarker({self.name})"


@dataclass
class UpsertAttributes(Command):
    type: ClassVar[str] = "UpsertAttributes"
    search: dict[str, Any] | None = None
    memo: dict[str, Any] | None = None


@dataclass
class CompleteWorkflow(Command):
    type: ClassVar[str] = "CompleteWorkflow"
    result: JSONValue = None


@dataclass
class FailWorkflow(Command):
    type: ClassVar[str] = "FailWorkflow"
    failure: Failure = field(default_factory=lambda: Failure("failed"))


@dataclass
class ContinueAsNew(Command):
    type: ClassVar[str] = "ContinueAsNew"
    workflow_type: str = ""
    args: list[JSONValue] = field(default_factory=list)
    # Messages the run received but never read, in arrival order ({"topic", "sender",
    # "payloads"}): the engine hands them to the new run before anything else, so an
    # accepted signal survives continue-as-new.
    messages: list[dict[str, JSONValue]] = field(default_factory=list)

    def identity(self) -> str:
        return f"ContinueAsNew({self.workflow_type})"


COMMANDS: dict[str, type[Command]] = {
    c.type: c
    for c in (
        ScheduleActivity,
        RequestCancelActivity,
        StartTimer,
        StartChild,
        SignalExternal,
        CancelExternal,
        SendLocal,
        UpdateReply,
        RecordMarker,
        UpsertAttributes,
        CompleteWorkflow,
        FailWorkflow,
        ContinueAsNew,
    )
}
TERMINAL = (CompleteWorkflow, FailWorkflow, ContinueAsNew)


def command_from_json(data: dict[str, Any]) -> Command:
    cmd: Command = _from_json(COMMANDS, data)
    return cmd


# ---------------------------------------------------------------------------------------------
# Jobs
# ---------------------------------------------------------------------------------------------


@dataclass
class Job(_Record):
    pass


@dataclass
class StartWorkflow(Job):
    type: ClassVar[str] = "StartWorkflow"
    args: list[JSONValue] = field(default_factory=list)


@dataclass
class ResolveActivity(Job):
    type: ClassVar[str] = "ResolveActivity"
    seq: int = 0
    result: JSONValue = None
    failure: Failure | None = None


@dataclass
class FireTimer(Job):
    type: ClassVar[str] = "FireTimer"
    seq: int = 0


@dataclass
class ResolveChildStart(Job):
    type: ClassVar[str] = "ResolveChildStart"
    seq: int = 0
    run_id: str = ""
    failure: Failure | None = None


@dataclass
class ResolveChild(Job):
    type: ClassVar[str] = "ResolveChild"
    seq: int = 0
    result: JSONValue = None
    failure: Failure | None = None


@dataclass
class ResolveSignalExternal(Job):
    type: ClassVar[str] = "ResolveSignalExternal"
    seq: int = 0
    failure: Failure | None = None


@dataclass
class ResolveCancelExternal(Job):
    type: ClassVar[str] = "ResolveCancelExternal"
    seq: int = 0
    failure: Failure | None = None


@dataclass
class Signal(Job):
    type: ClassVar[str] = "Signal"
    topic: str = ""
    sender: str = ""
    payloads: list[JSONValue] = field(default_factory=list)


UPDATE_HOST = "update"
# Kinds of the failure an update's caller gets for ``nak`` and for ``error`` (both engines).
UPDATE_REJECTED_KIND = "Invalid"
UPDATE_FAILED_KIND = "Internal"


def update_sender(update_id: str) -> str:
    """The reply address an update's message comes from: ``{update|<update id>}``."""
    return f"{{{UPDATE_HOST}|{update_id}}}"


def update_id_of(sender: str) -> str | None:
    """The update id of a reply address, or None if ``sender`` is not one."""
    prefix = f"{{{UPDATE_HOST}|"
    if sender.startswith(prefix) and sender.endswith("}") and len(sender) > len(prefix) + 1:
        return sender[len(prefix) : -1]
    return None


@dataclass
class CancelRequested(Job):
    type: ClassVar[str] = "CancelRequested"
    sender: str = "{|topology}"


JOBS: dict[str, type[Job]] = {
    c.type: c
    for c in (
        StartWorkflow,
        ResolveActivity,
        FireTimer,
        ResolveChildStart,
        ResolveChild,
        ResolveSignalExternal,
        ResolveCancelExternal,
        Signal,
        CancelRequested,
    )
}


def job_from_json(data: dict[str, Any]) -> Job:
    job: Job = _from_json(JOBS, data)
    return job


@dataclass
class Activation:
    """One workflow task: jobs at one instant of the workflow clock."""

    time_ns: int
    jobs: list[Job]
    replaying: bool = False
    history_length: int = 0
    history_size: int = 0
    continue_as_new_suggested: bool = False  # the history is long: the run should continue as new


@dataclass
class WorkflowInfo:
    """Facts about a run that ``workflow.info()`` and PIDs are made of. Same on replay."""

    workflow_id: str
    run_id: str
    workflow_type: str
    task_queue: str
    namespace: str = "default"
    attempt: int = 1
    client_id: str = ""
    worker_id: str = ""
    seed: int = 0
    context: dict[str, Any] = field(default_factory=dict)
    parent_pid: str = ""
    start_time_ns: int = 0

    @property
    def pid(self) -> str:
        return f"{{{self.client_id}@{self.worker_id}|{self.workflow_id}}}"

    def to_json(self) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in _field_names(WorkflowInfo)}
        out["context"] = _copy_json(self.context)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WorkflowInfo:
        names = _field_names(cls)
        return cls(**{k: v for k, v in data.items() if k in names})
