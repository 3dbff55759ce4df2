"""Serving an app's ``http.service`` entries with Uvicorn, inside the caller's event loop.

:class:`HttpServices` binds every service's socket first (a port in use is one clear error
naming the entry, before anything is served), then runs one Uvicorn server per service on
those sockets. Uvicorn's own signal handling is not used: whoever runs the app (``duralua
run``, a test) decides when to stop, and :meth:`HttpServices.stop` shuts down gracefully:
no new connections, in-flight requests finish (up to the service's ``lifecycle.stop_timeout``).
"""

from __future__ import annotations

import asyncio
import errno
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from .. import telemetry
from ..errors import ConfigError, ConfigErrors, Problem
from ..registry import Registry
from ..runtime.functions import FunctionRuntime
from .config import ServiceConfig, parse_service_config
from .routes import collect

if TYPE_CHECKING:
    # Loaded when a service is served: `duralua run` of an app without HTTP services (most
    # workflow apps) never imports Uvicorn, h11 or Starlette (~5 MB of its resident memory).
    import uvicorn
    from uvicorn.protocols.http.h11_impl import H11Protocol

    from .asgi import ServiceApp

Logger = Callable[[str, str], None]
T = TypeVar("T")
IDLE_HANDLER_STATES = 128  # per handler, kept after a burst (about 0.6 MB each)


def _protocol(read_timeout: float | None) -> type[H11Protocol]:
    """h11 protocol that closes connections whose request head does not arrive within
    ``read_timeout`` (Uvicorn has no such timeout: a client could hold a connection forever
    by sending half a request line)."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class Protocol(H11Protocol):
        _head_timer: asyncio.TimerHandle | None = None
        _head_cycle: Any = None

        def _arm(self) -> None:
            if read_timeout is not None:
                self._head_cycle = self.cycle
                self._head_timer = self.loop.call_later(read_timeout, self._head_expired)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_expired(self) -> None:
            self._head_timer = None
            if self.cycle is self._head_cycle and not self.transport.is_closing():
                self.transport.close()

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            if self._head_timer is None and (self.cycle is None or self.cycle.response_complete):
                self._arm()  # a new request on a kept-alive connection: its head has a deadline too
            super().data_received(data)
            if self.cycle is not self._head_cycle:
                self._disarm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return Protocol


class _Served:
    def __init__(self, cfg: ServiceConfig, app: ServiceApp, sock: socket.socket) -> None:
        self.cfg = cfg
        self.app = app
        self.sock = sock
        self.server: uvicorn.Server | None = None
        self.ticker: asyncio.Task[None] | None = None

    @property
    def address(self) -> str:
        host, port = self.sock.getsockname()[:2]
        shown = "127.0.0.1" if host == "0.0.0.0" else host
        return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


def _bind(cfg: ServiceConfig) -> socket.socket:
    try:
        infos = socket.getaddrinfo(cfg.host, cfg.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        reason = f"unknown host {cfg.host!r} ({exc.strerror})"
        raise ConfigError(f"http.service {cfg.id}: cannot listen on {cfg.addr}: {reason}") from None
    family, kind, proto, _, sockaddr = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(sockaddr)
        sock.listen(1024)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        reason = "address already in use (another program, or another duralua, serves it)" \
            if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))  # fmt: skip
        raise ConfigError(f"http.service {cfg.id}: cannot listen on {cfg.addr}: {reason}") from None
    return sock


class HttpServices:
    """The HTTP services of one app (``async with HttpServices(...) as web: web.addresses``)."""

    def __init__(self, registry: Registry, runtime: FunctionRuntime, *, log: Logger | None = None,
                 services: list[str] | None = None, announce: Callable[[str], None] | None = None) -> None:  # fmt: skip
        self.registry = registry
        self.runtime = runtime
        self.log = log
        self.only = services
        self.announce = announce
        self.served: list[_Served] = []
        self.warnings: list[Problem] = []

    @property
    def addresses(self) -> dict[str, str]:
        """Service id -> base URL actually listened on (port 0 resolved)."""
        return {s.cfg.id: s.address for s in self.served}

    async def __aenter__(self) -> HttpServices:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _plan(self) -> list[tuple[ServiceConfig, ServiceApp]]:
        problems: list[Problem] = []
        routes = collect(self.registry, problems)
        errors = [p for p in problems if p.severity == "error"]
        self.warnings = [p for p in problems if p.severity != "error"]
        plan: list[tuple[ServiceConfig, ServiceApp]] = []
        for sid, service in routes.items():
            if self.only is not None and sid not in self.only:
                continue
            try:
                cfg = parse_service_config(service.entry)
            except ConfigError as exc:
                errors.append(Problem(exc.message, exc.location))
                continue
            if cfg.auto_start:
                from .asgi import ServiceApp

                plan.append((cfg, ServiceApp(cfg, service, self.runtime, self.log)))
                for ep in service.endpoints:  # each request in flight holds a Lua state of its handler
                    self.runtime.keep_idle(ep.func, min(cfg.max_in_flight, IDLE_HANDLER_STATES))
        if errors:
            raise ConfigErrors(errors)
        return plan

    async def start(self) -> None:
        """Bind every service, then serve them all (``bind`` + ``serve``)."""
        self.bind()
        await self.serve()

    def bind(self) -> None:
        """Validate and bind every socket (nothing is accepted yet); raises ConfigError(s)."""
        if self.served:
            return
        plan = self._plan()
        try:
            for cfg, app in plan:
                self.served.append(_Served(cfg, app, _bind(cfg)))
        except BaseException:
            for s in self.served:
                s.sock.close()
            self.served = []
            raise
        if self.announce is not None:
            for p in self.warnings:
                self.announce(f"warning: {p}")

    async def serve(self) -> None:
        """Start accepting requests on the bound sockets."""
        try:
            for s in self.served:
                if s.server is None:
                    await self._serve(s)
        except BaseException:
            await self.stop()
            raise
        if self.announce is not None:
            for s in self.served:
                n = len(s.app.table.endpoints)
                self.announce(f"http {s.cfg.id} serving {n} route{'s' if n != 1 else ''} on {s.address}")

    async def _serve(self, s: _Served) -> None:
        cfg = s.cfg
        asgi: Any = s.app
        tel = telemetry.current()
        if tel is not None:
            from ..telemetry.http import TelemetryMiddleware

            asgi = TelemetryMiddleware(asgi, tel)
        import uvicorn

        config = uvicorn.Config(
            asgi, http=_protocol(cfg.read_timeout_s), lifespan="off", log_config=None, access_log=False,
            proxy_headers=False, server_header=False, timeout_keep_alive=max(1, round(cfg.idle_timeout_s)),
            timeout_graceful_shutdown=max(1, round(cfg.stop_timeout_s)), limit_concurrency=cfg.max_in_flight,
        )  # fmt: skip
        config.load()
        server = uvicorn.Server(config)
        server.lifespan = config.lifespan_class(config)
        await server.startup(sockets=[s.sock])
        s.server = server
        s.ticker = asyncio.get_running_loop().create_task(server.main_loop())

    async def stop(self) -> None:
        """Stop accepting, let in-flight requests finish, close every socket (idempotent)."""
        served, self.served = self.served, []
        for s in served:
            if s.server is not None:
                s.server.should_exit = True
        for s in served:
            if s.ticker is not None:
                await s.ticker
            if s.server is not None and s.server.started:
                await s.server.shutdown(sockets=[s.sock])
            s.sock.close()


async def serve_around(web: HttpServices, main: Awaitable[T], *, engine_ready: Callable[[], bool],
                       announce: Callable[[str], None] | None = None) -> tuple[T | None, int | None]:  # fmt: skip
    """Run ``main`` (e.g. ``serve_temporal``) with the HTTP services around it.

    The sockets are bound first (a port in use fails before anything else starts); requests
    are accepted once ``engine_ready()`` (the engine the handlers spawn on is attached).
    SIGINT/SIGTERM, from then on, stop HTTP first (in-flight requests finish) and then
    ``main`` (cancelled; it cleans up as on Ctrl-C). Returns ``(result, None)``, or
    ``(None, signal number)`` when stopped by a signal.
    """
    web.bind()
    if not web.served:
        return await main, None
    task: asyncio.Future[T] = asyncio.ensure_future(main)
    received: list[int] = []
    stopping: list[asyncio.Task[None]] = []
    loop = asyncio.get_running_loop()
    installed: list[int] = []
    try:
        while not task.done() and not engine_ready():
            await asyncio.wait({task}, timeout=0.02)
        if task.done():
            return task.result(), None
        await web.serve()

        def on_signal(sig: int) -> None:
            if received:
                return
            received.append(sig)
            if announce is not None:
                announce("stopping…")

            async def stop() -> None:
                await web.stop()
                task.cancel()

            stopping.append(loop.create_task(stop()))

        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, on_signal, sig)
                installed.append(sig)
            except (NotImplementedError, RuntimeError):  # not the main thread
                pass
        try:
            result = await task
        except asyncio.CancelledError:
            if not received:
                raise
            return None, received[0]
        return result, received[0] if received else None
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        for signum in installed:
            loop.remove_signal_handler(signum)
        await web.stop()


def stderr_line(text: str) -> None:
    """What ``duralua run`` announces (addresses, warnings) goes to stderr, like its other status lines."""
    print(text, file=sys.stderr, flush=True)
