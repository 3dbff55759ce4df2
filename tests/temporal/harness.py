"""Temporal harness: one dev server per test session, one background worker per app directory.

The conformance suite runs each test in its own ``asyncio.run``; a Temporal worker must live
in one event loop, so the workers of an app run in a thread of their own (started once per
session and app directory) while each test talks to Temporal through a fresh client and
:class:`~duralua.temporal.engine.TemporalEngine` in its own loop.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from duralua import App
from duralua.codec import JSONValue
from duralua.core.options import OptionError, parse_workflow_options
from duralua.engine import RunSummary, StartRequest
from duralua.errors import CallError, Failure, invalid
from duralua.registry import load_app
from duralua.temporal.devserver import DevServer
from duralua.temporal.engine import TemporalEngine
from duralua.temporal.runtime import ensure_runtime
from duralua.temporal.worker import TemporalHost, connect_engine

#: Registered on the session's dev server (a fresh dev server has no custom attributes).
SEARCH_ATTRIBUTES = {
    "CustomKeywordField": "Keyword",
    "CustomIntField": "Int",
    "CustomTextField": "Text",
    "CustomDoubleField": "Double",
    "CustomBoolField": "Bool",
}

#: A namespace of the session's dev server that only tests/acceptance/test_cli_table.py uses.
CLI_NAMESPACE = "duralua-cli"

_LOCK = threading.Lock()
_SERVER: DevServer | None = None
_HOSTS: dict[Path, BackgroundHost] = {}


def dev_server(config: pytest.Config) -> DevServer:
    """The session's dev server (started on first use, stopped at the end of the session)."""
    global _SERVER
    with _LOCK:
        if _SERVER is None:
            # Before the dev server's readiness probe creates the SDK's default runtime.
            ensure_runtime()
            # A low continue-as-new suggestion keeps tests/conformance/test_history_limits.py cheap.
            # CLI_NAMESPACE: tests that list "all runs" see only their own there.
            server = DevServer(search_attributes=SEARCH_ATTRIBUTES, namespaces=(CLI_NAMESPACE,),
                               dynamic_config={"limit.historyCount.suggestContinueAsNew": 60})  # fmt: skip
            server.start()
            _SERVER = server

            def stop() -> None:
                global _SERVER
                with _LOCK:
                    hosts = list(_HOSTS.values())
                    _HOSTS.clear()
                for host in hosts:
                    host.close()
                server.stop()
                _SERVER = None

            config.add_cleanup(stop)
        return _SERVER


def session_servers() -> set[DevServer]:
    """The shared dev server of this session, if it runs (other tests must not count it)."""
    with _LOCK:
        return {_SERVER} if _SERVER is not None else set()


def app_env(server: DevServer) -> dict[str, str]:
    return {**os.environ, "TEMPORAL_ADDRESS": server.address}


def load(app_dir: Path, server: DevServer) -> App:
    return App(registry=load_app(app_dir, env=app_env(server)), log=None)


class BackgroundHost:
    """An app's Temporal workers on a thread with its own event loop."""

    def __init__(self, app_dir: Path, server: DevServer, **host_kwargs: Any) -> None:
        self.app = load(app_dir, server)
        self.env = app_env(server)
        self._host_kwargs = host_kwargs
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name=f"temporal-workers-{app_dir.name}", daemon=True)
        self._thread.start()
        self._ready.wait(60)
        if self._error is not None:
            raise self._error
        if not self._ready.is_set():
            raise TimeoutError("the background Temporal workers did not start within 60s")

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with TemporalHost(self.app, env=self.env, notify=None, **self._host_kwargs):
            self._ready.set()
            await self._stop.wait()

    async def call(self, function: str, *args: JSONValue) -> JSONValue:
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(self.app.acall(function, *args), self._loop)
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)


def background_host(app_dir: Path, config: pytest.Config) -> BackgroundHost:
    server = dev_server(config)
    key = app_dir.resolve()
    with _LOCK:
        host = _HOSTS.get(key)
    if host is None:
        host = BackgroundHost(key, server)
        with _LOCK:
            _HOSTS[key] = host
    return host


class TemporalHarness:
    """The conformance Harness protocol over a real Temporal dev server."""

    name = "temporal"

    def __init__(self, app: App, engine: TemporalEngine, server: DevServer, host: BackgroundHost) -> None:
        self.app = app
        self.engine = engine
        self.server = server
        self.host = host

    async def start(
        self, workflow: str, *args: JSONValue, workflow_id: str | None = None, options: dict[str, Any] | None = None
    ) -> str:
        try:
            opts = parse_workflow_options(options or {})
        except OptionError as exc:
            raise CallError(invalid(str(exc))) from None
        wid = workflow_id if workflow_id is not None else opts.pop("id", None)
        worker = self.app.catalog.workflows[workflow].worker_id
        request = StartRequest(workflow, worker, list(args), opts, workflow_id=wid)
        return await self.engine.start_workflow(request)

    async def signal(self, pid: str, topic: str, payload: JSONValue) -> None:
        await self.engine.signal(pid, topic, [payload])

    async def outcome(self, pid: str) -> tuple[JSONValue, Failure | None]:
        return await self.engine.result(pid)

    async def call(self, function: str, *args: JSONValue) -> JSONValue:
        # In the workers' process, as a function of the served app: a workflow's messages to
        # a function process are delivered there (spec workflows.md §7.4).
        return await self.host.call(function, *args)

    async def cli_update(self, workflow_id: str, name: str, arg: str) -> tuple[int, Any]:
        args = ["workflow", "update", "execute", "--workflow-id", workflow_id, "--name", name, "--input", arg,
                "-o", "json"]  # fmt: skip
        done = await asyncio.to_thread(self.server.cli, *args, timeout=60, check=False)
        text = done.stdout or done.stderr
        try:
            return done.returncode, json.loads(text)
        except ValueError:
            return done.returncode, text.strip()

    async def cancel(self, pid: str) -> None:
        await self.engine.cancel(pid)

    async def terminate(self, pid: str) -> None:
        await self.engine.terminate(pid)

    async def update(self, pid: str, name: str, *args: JSONValue) -> tuple[JSONValue, Failure | None]:
        return await self.engine.update(pid, name, list(args))

    async def query(self, pid: str, name: str) -> JSONValue:
        return await self.engine.query(pid, name)

    async def runs(self, workflow_id: str) -> list[RunSummary]:
        """Runs of ``workflow_id`` as the server lists them (its visibility may lag a moment)."""
        client = next(iter(self.engine.clients.values()))
        out: list[RunSummary] = []
        async for execution in client.list_workflows(f"WorkflowId = '{workflow_id}'"):
            handle = client.get_workflow_handle(workflow_id, run_id=execution.run_id)
            summary = await self.engine._summary(client, await handle.describe(), with_outcome=True)
            out.append(summary)
        return sorted(out, key=lambda r: r.start_time_ns)

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@asynccontextmanager
async def _harness(request: pytest.FixtureRequest, app_dir: Path) -> AsyncIterator[TemporalHarness]:
    server = dev_server(request.config)
    host = await asyncio.to_thread(background_host, app_dir, request.config)
    app = load(app_dir, server)
    engine = await connect_engine(app, app_env(server))
    yield TemporalHarness(app, engine, server, host)


def temporal_harness(request: pytest.FixtureRequest, app_dir: Path) -> Any:
    """An async context manager yielding a :class:`TemporalHarness` for ``app_dir``."""
    return _harness(request, app_dir)
