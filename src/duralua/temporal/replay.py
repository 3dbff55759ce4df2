"""Replay a Temporal history (``temporal workflow show --output json``) against the current code.

``duralua workflow replay --file history.json`` uses this to check, e.g. in CI, that a code
change does not break runs in flight. The same dynamic workflow as on the worker replays the
history with Temporal's own :class:`~temporalio.worker.Replayer`, so the verdict is the one a
worker would reach.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

from . import search
from .converter import DATA_CONVERTER
from .dynamic import WorkflowHost, workflow_class
from .interceptors import WorkerInterceptor
from .runtime import ensure_runtime

if TYPE_CHECKING:
    from ..app import App

T = TypeVar("T")


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` from sync code, also when this thread already runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name="duralua-replay")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


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
    return _run(replay_history_async(app, history))
