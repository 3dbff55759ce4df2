"""Test support: run an app's workflows on a throw-away database with a virtual clock.

In a test file (``async def`` tests run under plain pytest: duralua's pytest plugin)::

    from duralua.testing import WorkflowEnvironment

    async def test_order():
        async with WorkflowEnvironment("examples/shop") as env:
            pid = await env.start("app:order_workflow", None,
                                  {"id": 1, "total": 30, "customer_id": "ada", "shipping_address": "x"})
            assert (await env.result(pid))["status"] == "completed"   # the 1h sleep takes no time

The same, as a doctest run from the repository root:

>>> import asyncio
>>> from duralua.testing import WorkflowEnvironment
>>> async def order():
...     async with WorkflowEnvironment("examples/shop") as env:
...         pid = await env.start("app:order_workflow", None,
...                               {"id": 1, "total": 30, "customer_id": "ada", "shipping_address": "x"})
...         before = env.clock.now_ns()
...         result = await env.result(pid)
...         return result["status"], round((env.clock.now_ns() - before) / 3600e9)
>>> asyncio.run(order())      # completed, one virtual hour later
('completed', 1)

With ``time_skipping=True`` (the default) the clock jumps to the next timer whenever the
engine has nothing else to do, so ``time.sleep("24h")`` completes instantly while the
workflow still sees 24 hours pass on ``time.now()``.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from .app import App, Workflows
from .codec import JSONValue
from .embedded.clock import Clock, VirtualClock
from .errors import CallError, Failure


class WorkflowEnvironment:
    """An embedded engine on a temporary SQLite file, optionally with time skipping."""

    def __init__(
        self,
        app: App | str | Path,
        *,
        db: str | Path | None = None,
        time_skipping: bool = True,
        cache_size: int = 2000,
        synchronous: str = "NORMAL",
    ) -> None:
        self.app = app if isinstance(app, App) else App(app)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if db is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="duralua-test-")
            db = Path(self._tmp.name) / "test.db"
        self.db = Path(db)
        self.clock: Clock = VirtualClock() if time_skipping else Clock()
        self.time_skipping = time_skipping
        self._wf: Workflows = self.app.engine(self.db, synchronous=synchronous, cache_size=cache_size,
                                              clock=self.clock)  # fmt: skip
        self.engine = self._wf.engine

    async def __aenter__(self) -> WorkflowEnvironment:
        await self._wf.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._wf.__aexit__()
        if self._tmp is not None:
            self._tmp.cleanup()

    async def start(self, workflow: str, worker: str | None = None, *args: JSONValue, **kw: Any) -> str:
        return await self._wf.start(workflow, worker, *args, **kw)

    async def signal(self, pid: str, topic: str, *payloads: JSONValue) -> None:
        await self._wf.signal(pid, topic, *payloads)

    async def outcome(self, pid: str, *, timeout: float = 60.0) -> tuple[JSONValue, Failure | None]:
        """Wait for a run's (value, failure), skipping virtual time while the engine is idle."""
        waiter = asyncio.ensure_future(self.engine.result(pid))
        try:
            return await asyncio.wait_for(self._drive(waiter), timeout)
        finally:
            waiter.cancel()

    async def result(self, pid: str, *, timeout: float = 60.0) -> JSONValue:
        value, failure = await self.outcome(pid, timeout=timeout)
        if failure is not None:
            raise CallError(failure)
        return value

    async def execute(self, workflow: str, worker: str | None = None, *args: JSONValue, **kw: Any) -> JSONValue:
        return await self.result(await self.start(workflow, worker, *args, **kw))

    async def _drive(
        self, waiter: asyncio.Future[tuple[JSONValue, Failure | None]]
    ) -> tuple[JSONValue, Failure | None]:
        while not waiter.done():
            if self.time_skipping:
                await self.engine.wait_idle()
                if waiter.done():
                    break
                nxt = self.engine.next_wakeup_ns()
                if nxt is not None:
                    self.engine.advance_clock(nxt)
                    await asyncio.sleep(0)
                    continue
            await asyncio.wait({waiter}, timeout=0.05)
        return waiter.result()

    async def sleep(self, seconds: float) -> None:
        """Let ``seconds`` of workflow time pass (instantly with time skipping)."""
        if not self.time_skipping:
            await asyncio.sleep(seconds)
            return
        target = self.clock.now_ns() + int(seconds * 1e9)
        while True:
            await self.engine.wait_idle()
            nxt = self.engine.next_wakeup_ns()
            if nxt is None or nxt > target:
                break
            self.engine.advance_clock(nxt)
            await asyncio.sleep(0)
        self.engine.advance_clock(target)
        await asyncio.sleep(0)
        await self.engine.wait_idle()

    async def idle(self) -> None:
        await self.engine.wait_idle()
