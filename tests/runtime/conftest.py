"""Fixtures of the runtime tests: an app served with its process hosts (and services) on the
embedded engine with a virtual clock, scenarios called as functions inside it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from duralua import App
from duralua.codec import JSONValue
from duralua.testing import WorkflowEnvironment

APP = Path(__file__).parent / "app"
T = TypeVar("T")


class Served:
    """An app whose workflows, processes and services run (virtual clock)."""

    def __init__(self, app: App, env: WorkflowEnvironment, lines: list[tuple[str, str]], runtime: Any) -> None:
        self.app = app
        self.env = env
        self.lines = lines
        self.runtime = runtime  # RuntimeServices: hosts, supervisor, control channel

    @property
    def rt(self) -> Any:
        return self.app.runtime

    async def drive(self, work: Awaitable[T], timeout: float = 60.0) -> T:
        """Await ``work`` while skipping virtual time whenever the engine and the runtime are
        idle (processes run in loop callbacks the engine does not see: let them settle first)."""
        fut = asyncio.ensure_future(work)
        try:
            return await asyncio.wait_for(self._skip_until(fut), timeout)
        finally:
            fut.cancel()

    async def _skip_until(self, fut: asyncio.Future[T]) -> T:
        engine = self.env.engine
        while not fut.done():
            await engine.wait_idle()
            await settle()
            if fut.done():
                break
            nxt = engine.next_wakeup_ns()
            if nxt is None:
                await asyncio.wait({fut}, timeout=0.02)
            else:
                engine.advance_clock(nxt)
        return fut.result()

    async def call(self, function: str, *args: JSONValue, timeout: float = 60.0) -> Any:
        return await self.drive(self.app.acall(function, *args), timeout)

    async def scenario(self, name: str, *args: JSONValue) -> Any:
        return await self.call("rt:drive", name, *args)

    async def sleep(self, seconds: float) -> None:
        """Let ``seconds`` of virtual time pass, the runtime settling between jumps."""
        engine = self.env.engine
        target = self.env.clock.now_ns() + int(seconds * 1e9)
        while True:
            await engine.wait_idle()
            await settle()
            nxt = engine.next_wakeup_ns()
            if nxt is None or nxt > target:
                break
            engine.advance_clock(nxt)
        engine.advance_clock(target)
        await settle()

    def log_text(self) -> str:
        return "\n".join(f"{src} {text}" for src, text in self.lines)


async def settle(turns: int = 100) -> None:
    """Let ready callbacks and tasks run (a message hop between processes takes a few turns)."""
    for _ in range(turns):
        await asyncio.sleep(0)


@asynccontextmanager
async def served(tmp_path: Path, app_dir: Path = APP, *, services: bool = True, events: list[Any] | None = None,
                 **limits: Any) -> AsyncIterator[Served]:  # fmt: skip
    """The app at ``app_dir`` served; ``events`` collects its lifecycle events from the start."""
    lines: list[tuple[str, str]] = []
    app = App(app_dir, log=lambda src, text: lines.append((src, text)), **limits)
    if events is not None:
        app.lifecycle.subscribe(events.append)
    env = WorkflowEnvironment(app, db=tmp_path / "rt.db")
    async with env, app.serve_runtime(services=services, control=tmp_path / "rt.db") as runtime:
        yield Served(app, env, lines, runtime)
