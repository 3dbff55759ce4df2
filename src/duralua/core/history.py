"""Run history and replay with a non-determinism check.

A history is the run's start info plus the list of activations it went through, each with
the jobs fed in and the commands the workflow produced. Replaying feeds the same jobs to a
fresh machine and compares every produced command with the recorded one at the same
position; any difference in kind or name is a :class:`NondeterminismError` naming the
position, the recorded command and the new one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..codec import decode, dumps
from ..errors import NondeterminismError
from . import model as m
from .machine import WorkflowMachine

MIB = 1024 * 1024


@dataclass(frozen=True)
class HistoryLimits:
    """How long a run's history may grow, in events and encoded bytes (Temporal's defaults).

    Past ``suggest_*`` the workflow sees ``workflow.info().continue_as_new_suggested``; past
    ``warn_*`` the engine warns (log line, lifecycle event, ``describe``); past ``max_*`` the
    run fails. A value of 0 turns that threshold off.
    """

    suggest_events: int = 4 * 1024
    suggest_bytes: int = 4 * MIB
    warn_events: int = 10 * 1024
    warn_bytes: int = 10 * MIB
    max_events: int = 50 * 1024
    max_bytes: int = 50 * MIB

    def suggested(self, length: int, size: int) -> bool:
        return _over(length, self.suggest_events) or _over(size, self.suggest_bytes)

    def warned(self, length: int, size: int) -> bool:
        return _over(length, self.warn_events) or _over(size, self.warn_bytes)

    def exceeded(self, length: int, size: int) -> bool:
        return _over(length, self.max_events) or _over(size, self.max_bytes)


def _over(value: int, limit: int) -> bool:
    return 0 < limit <= value


@dataclass
class ActivationRecord:
    time_ns: int
    jobs: list[m.Job]
    commands: list[m.Command]
    # What workflow.info().continue_as_new_suggested said in this step: recorded (as Temporal
    # records it in the task's started event) so a replay sees it even if the limits changed.
    continue_as_new_suggested: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "time_ns": self.time_ns,
            "jobs": [j.to_json() for j in self.jobs],
            "commands": [c.to_json() for c in self.commands],
        }
        if self.continue_as_new_suggested:
            out["continue_as_new_suggested"] = True
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ActivationRecord:
        return cls(
            int(data["time_ns"]),
            [m.job_from_json(j) for j in data.get("jobs", [])],
            [m.command_from_json(c) for c in data.get("commands", [])],
            bool(data.get("continue_as_new_suggested", False)),
        )

    def event_count(self) -> int:
        return 1 + len(self.jobs) + len(self.commands)


@dataclass
class History:
    info: m.WorkflowInfo
    activations: list[ActivationRecord] = field(default_factory=list)
    # Running totals for workflow.history_length()/history_size(), kept by append().
    _length: int = field(default=-1, repr=False, compare=False)
    _size: int = field(default=-1, repr=False, compare=False)
    # The encoded size of each activation (what history_size adds up), so that replay and the
    # totals never encode a record again: for a long run that was most of a replay's cost.
    _sizes: list[int] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_encoded(cls, info: m.WorkflowInfo, encoded: list[str]) -> History:
        """A history from stored records (canonical JSON, one per activation), decoded at once."""
        records = [ActivationRecord.from_json(d) for d in decode_records(encoded)]
        sizes = [len(e) for e in encoded]
        return cls(info, records, _size=sum(sizes), _sizes=sizes)

    def append(self, record: ActivationRecord, encoded: str | None = None) -> None:
        """Add an activation; ``encoded`` is its canonical JSON if the caller already has it."""
        length, size, sizes = self.length(), self.size(), self.activation_sizes()
        self.activations.append(record)
        n = len(encoded if encoded is not None else dumps(record.to_json()))
        sizes.append(n)
        self._length = length + record.event_count()
        self._size = size + n

    def activation_sizes(self) -> list[int]:
        if self._sizes is None or len(self._sizes) != len(self.activations):
            self._sizes = [len(dumps(a.to_json())) for a in self.activations]
        return self._sizes

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "duralua-history/1",
            "info": self.info.to_json(),
            "activations": [a.to_json() for a in self.activations],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> History:
        return cls(
            m.WorkflowInfo.from_json(data["info"]),
            [ActivationRecord.from_json(a) for a in data.get("activations", [])],
        )

    def recorded_versions(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for act in self.activations:
            for cmd in act.commands:
                if isinstance(cmd, m.RecordMarker) and cmd.name == "version" and isinstance(cmd.value, dict):
                    out.setdefault(str(cmd.value["id"]), int(cmd.value["version"]))
        return out

    def events(self) -> Iterator[dict[str, Any]]:
        """A flat, numbered event list for people (``duralua workflow history``)."""
        n = 1
        yield {"id": n, "event": "WorkflowStarted", "info": self.info.to_json()}
        for act in self.activations:
            n += 1
            yield {"id": n, "event": "WorkflowTask", "time_ns": act.time_ns}
            for job in act.jobs:
                n += 1
                yield {"id": n, "event": job.type, **{k: v for k, v in job.to_json().items() if k != "type"}}
            for cmd in act.commands:
                n += 1
                yield {"id": n, "event": cmd.type, **{k: v for k, v in cmd.to_json().items() if k != "type"}}

    def length(self) -> int:
        if self._length < 0:
            self._length = 1 + sum(a.event_count() for a in self.activations)
        return self._length

    def size(self) -> int:
        if self._size < 0:
            self._size = sum(self.activation_sizes())
        return self._size


def decode_records(encoded: list[str]) -> list[dict[str, Any]]:
    """Decode many stored records with one JSON parse (records are canonical JSON objects)."""
    if not encoded:
        return []
    text = "[" + ",".join(encoded) + "]"
    data = decode(text)
    assert isinstance(data, list)
    return data


def stats_before(history: History, upto: int) -> tuple[int, int]:
    """(history_length, history_size) as seen at the start of activation ``upto``."""
    length = 1 + sum(a.event_count() for a in history.activations[:upto]) + 1
    size = sum(history.activation_sizes()[:upto])
    return length, size


def check_commands(position: int, recorded: list[m.Command], produced: list[m.Command]) -> None:
    """Compare one activation's commands; raise NondeterminismError at the first difference."""
    for i in range(max(len(recorded), len(produced))):
        rec = recorded[i] if i < len(recorded) else None
        new = produced[i] if i < len(produced) else None
        if rec is not None and new is not None and rec.identity() == new.identity():
            continue
        rec_s = f"#{rec.seq} {rec.identity()}" if rec else "nothing"
        new_s = f"#{new.seq} {new.identity()}" if new else "nothing"
        raise NondeterminismError(
            f"non-determinism in workflow task {position + 1}: history has {rec_s}, the code now produces "
            f"{new_s}. The workflow code changed in a way that breaks runs in flight; gate the change with "
            "workflow.version() or restore the old code.",
            position=position + 1,
            recorded=rec_s,
            produced=new_s,
        )


def replay(machine: WorkflowMachine, history: History) -> None:
    """Bring ``machine`` to the state at the end of ``history``, checking determinism."""
    length = 1
    size = 0
    machine.replay_only = True
    try:
        for index, (act, act_size) in enumerate(zip(history.activations, history.activation_sizes(), strict=True)):
            length += 1
            step = m.Activation(act.time_ns, act.jobs, True, length, size, act.continue_as_new_suggested)
            produced = machine.activate(step)
            check_commands(index, act.commands, produced)
            length += len(act.jobs) + len(act.commands)
            size += act_size
    finally:
        machine.replay_only = False
