"""Replay a Temporal history (``temporal workflow show --output json``) against the current code.

``duralua workflow replay --file history.json`` uses this to check, e.g. in CI, that a code
change does not break runs in flight. The same dynamic workflow as on the worker replays the
history with Temporal's own :class:`~temporalio.worker.Replayer`, so the verdict is the one a
worker would reach.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

from . import search
from .converter import DATA_CONVERTER
from .devserver import run_coroutine
from .dynamic import WorkflowHost, workflow_class
from .interceptors import WorkerInterceptor
from .runtime import ensure_runtime

if TYPE_CHECKING:
    from ..app import App


async def replay_history_async(app: App, history: WorkflowHistory) -> tuple[bool, str]:
    # The search attributes this run set are the ones that existed when it ran (see
    # search.schema_from_history), so upsert checks answer as they did then.
    ensure_runtime()
    host = WorkflowHost(app.catalog, None, search.schema_from_history(history), log=None)
    replayer = Replayer(
        workflows=[workflow_class(host)],
        data_converter=DATA_CONVERTER,
        interceptors=[WorkerInterceptor()],
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    failure = result.replay_failure
    if failure is None:
        return True, "replayed cleanly"
    return False, f"{type(failure).__name__}: {failure}"


def replay_temporal_history(app: App, data: dict[str, Any], *, workflow_id: str | None = None) -> tuple[bool, str]:
    """(True, "replayed cleanly") or (False, message naming the non-determinism)."""
    wid = workflow_id or str(data.get("workflowId") or data.get("workflow_id") or "replay")
    try:
        history = WorkflowHistory.from_json(wid, data)
    except Exception as exc:
        return False, f"not a Temporal history export: {exc}"
    return run_coroutine(replay_history_async(app, history))
