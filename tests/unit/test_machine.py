"""The workflow machine and replay, driven by hand-built jobs (no Lua, no engine)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from duralua.core import model as m
from duralua.core.history import ActivationRecord, History, replay
from duralua.core.machine import WorkflowMachine
from duralua.core.scheduler import Scheduler
from duralua.errors import Failure, NondeterminismError

from .fakevm import FakeVM, Gen


class Program:
    def __init__(self, body: Callable[..., Gen]) -> None:
        self.body = body
        self._vm = FakeVM()

    @property
    def vm(self) -> FakeVM:
        return self._vm

    def bind(self, scheduler: Scheduler, host: WorkflowMachine) -> None:
        self._vm.scheduler = scheduler

    def start(self, args: list[Any]) -> None:
        assert self._vm.scheduler is not None
        self._vm.add(1, self.body(*args))
        self._vm.scheduler.add_coroutine(1)

    def result_of(self, values: tuple[Any, ...]) -> tuple[Any, Failure | None]:
        return (values[0] if values else None), None

    def failure_of(self, raised: Any) -> Failure:
        return Failure(str(raised), "Internal")

    def close(self) -> None:
        pass


INFO = m.WorkflowInfo("wf-1", "run-1", "t:wf", "q", client_id="t:client", worker_id="t:worker", seed=7)


def order(first: str, second: str) -> Callable[..., Gen]:
    def body(x: int) -> Gen:
        a, _err = yield ("call", first, [x], None, None)
        yield ("sleep", 1_000_000_000)
        b, _err = yield ("call", second, [a], None, None)
        return {"a": a, "b": b}

    return body


def drive(body: Callable[..., Gen]) -> tuple[History, Any]:
    machine = WorkflowMachine(INFO, Program(body))
    history = History(INFO)
    jobs: list[m.Job] = [m.StartWorkflow(args=[1])]
    t = 0
    while True:
        cmds = machine.activate(m.Activation(t, jobs))
        history.activations.append(ActivationRecord(t, jobs, cmds))
        jobs = []
        for c in cmds:
            if isinstance(c, m.ScheduleActivity):
                jobs.append(m.ResolveActivity(seq=c.seq, result=c.args[0] + 10))
            elif isinstance(c, m.StartTimer):
                jobs.append(m.FireTimer(seq=c.seq))
            elif isinstance(c, m.CompleteWorkflow):
                return history, c.result
        t += 1_000_000_000


def test_activation_produces_numbered_commands_and_completes() -> None:
    history, result = drive(order("t:first", "t:second"))
    assert result == {"a": 11, "b": 21}
    kinds = [c.identity() for a in history.activations for c in a.commands]
    assert kinds == [
        "ScheduleActivity(t:first)",
        "StartTimer",
        "ScheduleActivity(t:second)",
        "CompleteWorkflow",
    ]
    assert [c.seq for a in history.activations for c in a.commands] == [1, 2, 3, 4]


def test_replay_of_same_code_is_clean_and_reordering_is_reported() -> None:
    history, _ = drive(order("t:first", "t:second"))
    replay(WorkflowMachine(INFO, Program(order("t:first", "t:second"))), history)
    with pytest.raises(NondeterminismError) as info:
        replay(WorkflowMachine(INFO, Program(order("t:second", "t:first"))), history)
    err = info.value
    assert err.position == 1
    assert "ScheduleActivity(t:first)" in err.recorded and "ScheduleActivity(t:second)" in err.produced


def test_history_round_trips_through_json() -> None:
    history, _ = drive(order("t:first", "t:second"))
    again = History.from_json(history.to_json())
    assert again.to_json() == history.to_json()
    replay(WorkflowMachine(INFO, Program(order("t:first", "t:second"))), again)


def test_version_marker_semantics() -> None:
    def v(lo: int, hi: int) -> Callable[..., Gen]:
        def body(_x: int) -> Gen:
            version, _ = yield ("version", "chg", lo, hi)
            again, _ = yield ("version", "chg", lo, hi)
            return [version, again]

        return body

    live = WorkflowMachine(INFO, Program(v(1, 2)))
    cmds = live.activate(m.Activation(0, [m.StartWorkflow(args=[1])]))
    assert cmds[-1].result == [2, 2]  # type: ignore[attr-defined]
    # replay of a history that predates the call: -1
    old = WorkflowMachine(INFO, Program(v(-1, 2)))
    cmds = old.activate(m.Activation(0, [m.StartWorkflow(args=[1])], replaying=True))
    assert cmds[-1].result == [-1, -1]  # type: ignore[attr-defined]
    # recorded version outside the supported range is host-fatal
    strict = WorkflowMachine(INFO, Program(v(3, 4)), recorded_versions={"chg": 2})
    with pytest.raises(NondeterminismError):
        strict.activate(m.Activation(0, [m.StartWorkflow(args=[1])], replaying=True))


def test_signals_wait_in_mailbox_and_failures_become_fail_command() -> None:
    def body(_x: int) -> Gen:
        machine_sched = prog.vm.scheduler
        assert machine_sched is not None
        ch = machine_sched.new_channel(0)
        machine_sched.subscribe("@inbox", ch, True)
        handle, _ok = yield ("recv", ch)
        topic, payloads = prog.vm.take(handle)
        if payloads[0] == "boom":
            raise RuntimeError("exploded")
        return topic

    prog = Program(body)
    machine = WorkflowMachine(INFO, prog)
    cmds = machine.activate(m.Activation(0, [m.Signal(topic="go", payloads=["boom"]), m.StartWorkflow(args=[1])]))
    assert isinstance(cmds[-1], m.FailWorkflow) and "exploded" in cmds[-1].failure.message
