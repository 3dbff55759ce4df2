"""Signal, cancel and terminate from the UI, through the same engine paths as the CLI.

* :class:`EngineActions` — the UI runs inside ``duralua run --ui``: the in-process engine's
  API (the coroutine runs on the engine's own event loop, the UI waits for its commit);
* :class:`QueuedActions` — ``duralua ui --db``: the request is queued in the database's
  ``requests`` table, as ``duralua workflow signal`` does, and applied by the engine serving
  the database, whose recorded outcome the UI waits for (a few seconds, then it reports the
  request as queued: it is applied when an engine serves the database);
* :class:`NoActions` — ``duralua ui --db --read-only``: every action is refused.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..codec import JSONValue
from ..embedded.owner import OwnerLock
from ..embedded.store import Store
from ..errors import CallError, DuraluaError

OUTCOME_WAIT = 5.0
POLL = 0.05


@dataclass
class ActionResult:
    ok: bool
    message: str
    queued: bool = False


class Actions(Protocol):
    mode: str  # "engine", "queue" or "none"

    async def signal(self, workflow_id: str, topic: str, payloads: list[JSONValue]) -> ActionResult: ...

    async def cancel(self, workflow_id: str) -> ActionResult: ...

    async def terminate(self, workflow_id: str, reason: str) -> ActionResult: ...


class NoActions:
    mode = "none"

    async def _refuse(self) -> ActionResult:
        return ActionResult(False, "this UI is read-only (started with --read-only)")

    async def signal(self, workflow_id: str, topic: str, payloads: list[JSONValue]) -> ActionResult:
        return await self._refuse()

    async def cancel(self, workflow_id: str) -> ActionResult:
        return await self._refuse()

    async def terminate(self, workflow_id: str, reason: str) -> ActionResult:
        return await self._refuse()


class EngineActions:
    """Calls the engine's API on the engine's loop (the UI server runs on a thread of its own)."""

    mode = "engine"

    def __init__(self, engine: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.engine = engine
        self.loop = loop

    async def _on_engine(self, coro: Coroutine[Any, Any, Any], done: str) -> ActionResult:
        try:
            future = asyncio.run_coroutine_threadsafe(coro, self.loop)
            await asyncio.wrap_future(future)
        except CallError as exc:
            return ActionResult(False, f"{exc.failure.kind or 'error'}: {exc.failure.message}")
        except DuraluaError as exc:
            return ActionResult(False, str(exc))
        return ActionResult(True, done)

    async def signal(self, workflow_id: str, topic: str, payloads: list[JSONValue]) -> ActionResult:
        return await self._on_engine(self.engine.signal(workflow_id, topic, payloads), f"signal {topic} sent")

    async def cancel(self, workflow_id: str) -> ActionResult:
        return await self._on_engine(self.engine.cancel(workflow_id), "cancel requested")

    async def terminate(self, workflow_id: str, reason: str) -> ActionResult:
        return await self._on_engine(self.engine.terminate(workflow_id, reason), "terminated")


class QueuedActions:
    """Queues requests for the engine that serves the database (or the next one that will)."""

    mode = "queue"

    def __init__(self, db_path: str | Path, wait: float = OUTCOME_WAIT) -> None:
        self.db_path = Path(db_path)
        self.wait = wait

    def _queue(self, kind: str, body: dict[str, Any]) -> int:
        store = Store(self.db_path)
        try:
            with store.transaction() as conn:
                return Store.add_request(conn, kind, body, time.time_ns())
        finally:
            store.close()

    async def _apply(self, kind: str, body: dict[str, Any], done: str) -> ActionResult:
        try:
            request_id = await asyncio.to_thread(self._queue, kind, body)
        except DuraluaError as exc:
            return ActionResult(False, str(exc))
        serving = OwnerLock(self.db_path).held_elsewhere()
        deadline = time.monotonic() + (self.wait if serving else 0.5)
        reader = Store(self.db_path, readonly=True)
        try:
            while True:
                found = reader.request_outcome(request_id)
                if found is not None and found[0] != "queued":
                    state, outcome = found
                    if state == "done":
                        note = outcome.get("note")
                        return ActionResult(True, f"{done} ({note})" if note else done)
                    return ActionResult(False, f"{outcome.get('kind') or 'error'}: {outcome.get('error')}")
                if time.monotonic() >= deadline:
                    why = "the engine did not apply it yet" if serving else "no engine serves this database"
                    return ActionResult(True, f"{kind} queued ({why}); it is applied when `duralua run` serves "
                                        "the database", queued=True)  # fmt: skip
                await asyncio.sleep(POLL)
        finally:
            reader.close()

    async def signal(self, workflow_id: str, topic: str, payloads: list[JSONValue]) -> ActionResult:
        return await self._apply("signal", {"pid": workflow_id, "topic": topic, "payloads": payloads},
                                 f"signal {topic} sent")  # fmt: skip

    async def cancel(self, workflow_id: str) -> ActionResult:
        return await self._apply("cancel", {"pid": workflow_id}, "cancel requested")

    async def terminate(self, workflow_id: str, reason: str) -> ActionResult:
        return await self._apply("terminate", {"pid": workflow_id, "reason": reason}, "terminated")
