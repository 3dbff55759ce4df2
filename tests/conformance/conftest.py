"""Conformance harness: the same Lua workflows against every engine.

Engines: ``embedded`` (live-state cache), ``replay`` (embedded engine that evicts the Lua
state after every activation, so every step replays the whole history) and ``temporal``
(a real dev server; added by the Temporal backend). Choose with ``--engine``.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pytest

from duralua import App
from duralua.codec import JSONValue
from duralua.engine import RunSummary
from duralua.errors import Failure
from duralua.testing import WorkflowEnvironment

APP_DIR = Path(__file__).parent / "app"
T = TypeVar("T")


class Harness(Protocol):
    name: str

    async def start(
        self, workflow: str, *args: JSONValue, workflow_id: str | None = None, options: dict[str, Any] | None = None
    ) -> str: ...
    async def signal(self, pid: str, topic: str, payload: JSONValue) -> None: ...
    async def outcome(self, pid: str) -> tuple[JSONValue, Failure | None]: ...
    async def call(self, function: str, *args: JSONValue) -> JSONValue: ...
    async def cancel(self, pid: str) -> None: ...
    async def terminate(self, pid: str) -> None: ...
    async def update(self, pid: str, name: str, *args: JSONValue) -> tuple[JSONValue, Failure | None]: ...
    async def query(self, pid: str, name: str) -> JSONValue: ...
    async def runs(self, workflow_id: str) -> list[RunSummary]:
        """Every run of ``workflow_id``, oldest first, with the outcome of the closed ones."""
        ...

    def now_ms(self) -> int:
        """The engine's clock (virtual on the embedded engine)."""
        ...

    async def cli_update(self, workflow_id: str, name: str, arg: str) -> tuple[int, Any]:
        """The engine's own CLI sends an update: (exit status, decoded JSON output or text)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Let ``seconds`` pass on the engine's clock (instantly with the virtual clock)."""
        ...


class EmbeddedHarness:
    def __init__(self, name: str, env: WorkflowEnvironment) -> None:
        self.name = name
        self.env = env

    async def start(
        self, workflow: str, *args: JSONValue, workflow_id: str | None = None, options: dict[str, Any] | None = None
    ) -> str:
        worker = self.env.app.catalog.workflows[workflow].worker_id
        return await self.env.start(workflow, worker, *args, workflow_id=workflow_id, options=options)

    async def signal(self, pid: str, topic: str, payload: JSONValue) -> None:
        await self.env.signal(pid, topic, payload)

    async def outcome(self, pid: str) -> tuple[JSONValue, Failure | None]:
        return await self.env.outcome(pid)

    async def call(self, function: str, *args: JSONValue) -> JSONValue:
        return await self.env.app.acall(function, *args)

    async def cancel(self, pid: str) -> None:
        await self.env.engine.cancel(pid)

    async def terminate(self, pid: str) -> None:
        await self.env.engine.terminate(pid)

    async def update(self, pid: str, name: str, *args: JSONValue) -> tuple[JSONValue, Failure | None]:
        waiter = asyncio.ensure_future(self.env.engine.update(pid, name, list(args)))
        try:
            return await self.env._drive(waiter)
        finally:
            waiter.cancel()

    async def query(self, pid: str, name: str) -> JSONValue:
        await self.env.idle()
        return await self.env.engine.query(pid, name)

    async def runs(self, workflow_id: str) -> list[RunSummary]:
        await self.env.idle()
        return [r for r in await self.env.engine.list_runs() if r.workflow_id == workflow_id]

    def now_ms(self) -> int:
        return self.env.clock.now_ns() // 1_000_000

    async def cli_update(self, workflow_id: str, name: str, arg: str) -> tuple[int, Any]:
        cli = [sys.executable, "-c", "from duralua.cli.main import main; main()"]
        cmd = [*cli, "workflow", "update", workflow_id, name, arg,
               "--dir", str(APP_DIR), "--db", str(self.env.db), "--json", "--timeout", "30"]  # fmt: skip
        done = await asyncio.to_thread(subprocess.run, cmd, capture_output=True, text=True, timeout=60)
        return done.returncode, _decoded(done.stdout or done.stderr)

    async def sleep(self, seconds: float) -> None:
        await self.env.sleep(seconds)


def _decoded(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text.strip()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--engine", default="all", help="embedded | replay | temporal | all")


def engines(config: pytest.Config) -> list[str]:
    choice = config.getoption("--engine")
    if choice == "all":
        return ["embedded", "replay", "temporal"]
    return [str(choice)]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "harness_factory" in metafunc.fixturenames:
        params = [
            pytest.param(name, marks=pytest.mark.temporal) if name == "temporal" else name
            for name in engines(metafunc.config)
        ]
        metafunc.parametrize("harness_factory", params, indirect=True)


@pytest.fixture
def harness_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    name = request.param
    if name == "temporal":
        from tests.temporal.harness import temporal_harness

        return lambda: temporal_harness(request, APP_DIR)

    def make() -> Any:
        return _embedded(name, tmp_path)

    return make


class _embedded:
    def __init__(self, name: str, tmp_path: Path) -> None:
        self.name = name
        self.tmp_path = tmp_path

    async def __aenter__(self) -> EmbeddedHarness:
        app = App(APP_DIR, log=None)
        self.env = WorkflowEnvironment(
            app, db=self.tmp_path / f"{self.name}.db", cache_size=0 if self.name == "replay" else 1000
        )
        await self.env.__aenter__()
        return EmbeddedHarness(self.name, self.env)

    async def __aexit__(self, *exc: object) -> None:
        await self.env.__aexit__()


def run(factory: Any, body: Callable[[Harness], Coroutine[Any, Any, T]]) -> T:
    async def main() -> T:
        async with factory() as h:
            return await asyncio.wait_for(body(h), 120)

    return asyncio.run(main())
