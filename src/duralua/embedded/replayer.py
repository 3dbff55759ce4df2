"""Replay a stored history against the current code (``duralua workflow replay``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.history import History, replay
from ..core.machine import WorkflowMachine
from ..errors import WorkflowNotFound
from ..lua.workflow_program import LuaWorkflowProgram

if TYPE_CHECKING:
    from ..app import App


def replay_history(app: App, history: History) -> None:
    """Raise NondeterminismError if the current code diverges from ``history``."""
    wf = app.catalog.workflows.get(history.info.workflow_type)
    if wf is None:
        raise WorkflowNotFound(
            f"workflow type {history.info.workflow_type} is not in this app",
            hint="run the replay from the app directory that defines it (--dir)",
        )
    machine = WorkflowMachine(
        history.info,
        LuaWorkflowProgram(wf.code, scope=app.catalog),
        activity_defaults=app.catalog.activity_defaults,
        recorded_versions=history.recorded_versions(),
    )
    try:
        replay(machine, history)
    finally:
        machine.close()
