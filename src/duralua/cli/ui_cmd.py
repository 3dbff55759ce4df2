"""``duralua ui --db PATH``, and the ``--ui`` / ``--metrics`` side of ``duralua run``.

Kept apart from :mod:`.main` so the UI and telemetry wiring is one import there. Messages
carry user text (paths, addresses) as plain :class:`rich.text.Text`, never as markup.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.text import Text

from ..errors import ConfigError
from .common import err_console

if TYPE_CHECKING:
    from ..app import App

T = TypeVar("T")

DEFAULT_UI = "127.0.0.1:7380"

UiOpt = Annotated[
    str | None,
    typer.Option("--ui", metavar="[ADDR]",
                 help=f"Serve the web UI (alone: {DEFAULT_UI}; 127.0.0.1:0 picks a free port)."),
]  # fmt: skip
MetricsOpt = Annotated[
    str | None,
    typer.Option("--metrics", metavar="ADDR",
                 help="Serve Prometheus /metrics on this address (needs duralua[otel]); with --ui also on the UI."),
]  # fmt: skip


def _note(*parts: str | tuple[str, str]) -> None:
    err_console.print(Text.assemble(*parts), highlight=False)


class RunExtras:
    """Telemetry and the UI around a ``duralua run``: set up before the engine, the UI once it runs."""

    def __init__(self, root: Path, db_path: Path, ui: str | None, metrics: str | None) -> None:
        self.root = root
        self.db_path = db_path
        self.ui = (ui or DEFAULT_UI) if ui is not None else None
        self.metrics = metrics
        self.telemetry: Any = None
        self.server: Any = None

    def before(self, app: App, *, embedded: bool) -> None:
        from ..telemetry import Telemetry, load_config

        if self.ui is not None and not embedded:
            raise ConfigError("--ui serves the embedded engine's runs; on Temporal use Temporal's own UI",
                              hint="`duralua dev-server --ui` starts a local Temporal with its UI")  # fmt: skip
        cfg = load_config(self.root, os.environ)
        if self.metrics is not None:
            cfg.metrics, cfg.metrics_address = True, self.metrics
        if not cfg.enabled:
            return
        self.telemetry = Telemetry(cfg).install()
        self.telemetry.attach(app.lifecycle)
        if embedded:
            self.telemetry.watch_database(self.db_path)
        if cfg.metrics and cfg.metrics_address:
            host, port = self.telemetry.serve_metrics(cfg.metrics_address)
            _note(("duralua", "green"), f" metrics on http://{host}:{port}/metrics")
        if cfg.tracing:
            _note(("duralua", "green"), f" tracing as {cfg.service_name} ({cfg.exporter})")

    def started(self, app: App, engine: Any) -> None:
        if self.ui is None:
            return
        from ..ui import start_ui

        self.server = start_ui(self.ui, self.db_path, bus=app.lifecycle, engine=engine,
                               engine_loop=asyncio.get_running_loop(), telemetry=self.telemetry,
                               runtime=app.runtime)  # fmt: skip
        _note(("duralua", "green"), f" UI on {self.server.url}")

    @contextlib.asynccontextmanager
    async def serving(self, app: App, wf: Any) -> AsyncIterator[Any]:
        """``async with extras.serving(app, wf):`` in place of ``async with wf:`` — telemetry
        before the engine starts, the UI once it runs, both stopped before the engine stops."""
        self.before(app, embedded=True)
        try:
            async with wf:
                self.started(app, wf.engine)
                yield wf
                self._stop_ui()
        finally:
            self.stop()

    async def around(self, app: App, serve: Awaitable[T]) -> T:
        """Run a Temporal ``serve`` with telemetry set up first (its clients take the interceptors)."""
        self.before(app, embedded=False)
        try:
            return await serve
        finally:
            self.stop()

    def _stop_ui(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self.telemetry is not None:
            self.telemetry.close()
            self.telemetry = None


def ui(
    db: Annotated[Path, typer.Option("--db", help="The SQLite file of the embedded engine.")],
    address: Annotated[str, typer.Option("--addr", help="Address to listen on (127.0.0.1:0: a free port).")] = (
        DEFAULT_UI
    ),
    read_only: Annotated[
        bool, typer.Option("--read-only", help="Refuse signal/cancel/terminate (by default they are queued).")
    ] = False,
    metrics: Annotated[
        bool, typer.Option("--metrics", help="Also serve /metrics (database gauges; needs duralua[otel]).")
    ] = False,
) -> None:
    """Serve the web UI for a database that no engine of this process serves, until Ctrl-C.

    Reads use a read-only connection. Signal, cancel and terminate are queued in the
    database like `duralua workflow signal` does, and applied by the `duralua run` that
    serves it (or the next one to start); --read-only refuses them.
    """
    from ..ui import start_ui

    if not db.exists():
        raise ConfigError(f"no database at {db}", hint="pass the .duralua/duralua.db of an app that ran workflows")
    # Blocked before the server's thread starts (it inherits the mask): sigwait gets them.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    telemetry: Any = None
    if metrics:
        from ..telemetry import Telemetry, TelemetryConfig

        telemetry = Telemetry(TelemetryConfig(metrics=True))
        telemetry.watch_database(db)
    server = start_ui(address, db, read_only=read_only, telemetry=telemetry)
    actions = "read-only" if read_only else "actions are queued for the engine serving it"
    _note(("duralua", "green"), f" UI on {server.url} — db {db}, {actions}. Ctrl-C to stop.")
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        server.stop()
        if telemetry is not None:
            telemetry.close()


def ui_flag_default(argv: list[str]) -> list[str]:
    """``duralua run --ui`` with no address means the default one.

    Click options cannot take an optional value, so a bare ``--ui`` (last, or followed by
    something that is not an address: another option, the app directory) gets the default
    before parsing. An address is ``host:port``, ``:port`` or ``[v6]:port``.
    """
    if not argv or argv[0] != "run":
        return argv
    out = list(argv)
    for i, arg in enumerate(out):
        if arg == "--":
            break
        if arg == "--ui":
            nxt = out[i + 1] if i + 1 < len(out) else None
            if nxt is None or not _looks_like_address(nxt):
                out[i] = f"--ui={DEFAULT_UI}"
    return out


def _looks_like_address(text: str) -> bool:
    host, sep, port = text.rpartition(":")
    return bool(sep) and port.isdigit() and not host.startswith("-") and "/" not in host


def dev_ui_text(url: str | None) -> str:
    return f"UI {url}" if url else "no web UI (--ui starts it)"
