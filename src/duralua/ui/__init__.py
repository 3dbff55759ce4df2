"""The web UI: runs list, run detail with history timeline, signal/cancel/terminate, and the
services and processes of the running app.

Served by ``duralua run --ui [ADDR]`` (next to the engine, live through its lifecycle stream)
and ``duralua ui --db PATH`` (a database no engine in this process serves). The server runs
on a thread and an event loop of its own, reads through a read-only SQLite connection, and
hands actions to the engine's loop, so the UI never blocks the engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn

from .. import lifecycle as lc
from ..errors import ConfigError
from ..lifecycle import LifecycleBus, LifecycleEvent
from .actions import EngineActions, NoActions, QueuedActions
from .data import ReadModel
from .live import BusFeed, PollFeed
from .services import ControlRuntime, LocalRuntime
from .web import UIState, create_app

__all__ = ["AttemptLog", "UIServer", "build_state", "parse_address", "start_ui"]

DEFAULT_PORT = 7380  # not 8233: that is where `duralua dev-server --ui` puts Temporal's own UI
START_TIMEOUT = 10.0


class AttemptLog:
    """How many attempts each activity took, as seen by this process (the database keeps only
    the current attempt of a pending activity)."""

    def __init__(self, bus: LifecycleBus, max_runs: int = 10_000) -> None:
        self._runs: OrderedDict[str, dict[int, int]] = OrderedDict()
        self._max = max_runs
        self._lock = threading.Lock()
        self._unsubscribe = bus.subscribe(self._on_event)

    def _on_event(self, event: LifecycleEvent) -> None:
        if event.kind != lc.ACTIVITY_ATTEMPT:
            return
        seq = int(event.data.get("seq", 0))
        with self._lock:
            seen = self._runs.setdefault(event.run_id, {})
            self._runs.move_to_end(event.run_id)
            seen[seq] = max(seen.get(seq, 0), int(event.data.get("attempt", 1)))
            while len(self._runs) > self._max:
                self._runs.popitem(last=False)

    def of(self, run_id: str) -> dict[int, int]:
        with self._lock:
            return dict(self._runs.get(run_id, {}))

    def close(self) -> None:
        self._unsubscribe()


def parse_address(address: str | None, default_port: int = DEFAULT_PORT) -> tuple[str, int]:
    from ..telemetry.config import split_address

    return split_address(address or "", default_port)


def build_state(
    db_path: str | Path,
    *,
    bus: LifecycleBus | None = None,
    engine: Any = None,
    engine_loop: asyncio.AbstractEventLoop | None = None,
    read_only: bool = False,
    telemetry: Any = None,
    title: str = "duralua",
    runtime: Any = None,
) -> UIState:
    """The UI's state for a database: live from ``bus`` and acting through ``engine`` when an
    engine runs in this process, else polling the database and queueing requests. Services
    and processes come from ``runtime`` (the app's FunctionRuntime, on ``engine_loop``) when
    given, else from the control channel of the app serving the database."""
    model = ReadModel(db_path)
    if read_only:
        actions: Any = NoActions()
    elif engine is not None and engine_loop is not None:
        actions = EngineActions(engine, engine_loop)
    else:
        actions = QueuedActions(db_path)
    feed: Any = BusFeed(bus) if bus is not None else PollFeed(model)
    attempts = AttemptLog(bus) if bus is not None else None
    source: Any = ControlRuntime(db_path)
    if runtime is not None and engine_loop is not None:
        source = LocalRuntime(runtime, engine_loop)
    return UIState(model=model, actions=actions, feed=feed, title=title, telemetry=telemetry, attempts=attempts,
                   runtime=source)  # fmt: skip


class _Server(uvicorn.Server):
    """uvicorn without its signal handling: the process that embeds the UI owns Ctrl-C."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def install_signal_handlers(self) -> None:
        return None


class UIServer:
    """The UI's HTTP server on a thread and event loop of its own."""

    def __init__(self, state: UIState, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
        self.state = state
        self.host = host
        self.port = port
        self._server: _Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> UIServer:
        config = uvicorn.Config(create_app(self.state), host=self.host, port=self.port, log_level="warning",
                                access_log=False, lifespan="off", timeout_graceful_shutdown=2)  # fmt: skip
        self._server = _Server(config)
        self._thread = threading.Thread(target=self._run, name="duralua-ui", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self._server.started:
            if self._error is not None or not self._thread.is_alive():
                raise ConfigError(f"the UI cannot listen on {self.host}:{self.port}: {self._error or 'it stopped'}",
                                  hint="pick another address, e.g. --ui 127.0.0.1:0 for a free port")  # fmt: skip
            if time.monotonic() > deadline:
                raise ConfigError("the UI server did not start in time")
            time.sleep(0.01)
        sockets = [s for srv in self._server.servers for s in srv.sockets]
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        return self

    def _run(self) -> None:
        assert self._server is not None
        try:
            asyncio.run(self._serve(self._server))
        except BaseException as exc:  # reported by start(); a thread must not die silently
            self._error = exc

    async def _serve(self, server: _Server) -> None:
        self._loop = asyncio.get_running_loop()
        self.state.closing = asyncio.Event()
        await server.serve()
        if not server.started and self._error is None:
            self._error = OSError("address in use or not available")

    def stop(self) -> None:
        server, loop, closing = self._server, self._loop, self.state.closing
        if server is not None:
            if loop is not None and closing is not None and not loop.is_closed():
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(closing.set)  # ends the event streams
            server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.state.feed.close()
        if self.state.attempts is not None:
            self.state.attempts.close()
        self.state.model.close()


def start_ui(address: str | None, db_path: str | Path, **kw: Any) -> UIServer:
    host, port = parse_address(address)
    return UIServer(build_state(db_path, **kw), host, port).start()
