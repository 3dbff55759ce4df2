"""The Python API: load an app, call its functions, run its workflows.

Run from the repository root (the example is tested as a doctest):

>>> import asyncio, tempfile
>>> import duralua
>>> app = duralua.App("examples/shop")
>>> @app.function("app:notify", worker="app:worker")     # a Python activity, callable from Lua
... def notify(message):
...     return {"sent": message}
>>> app.call("app:charge_payment", {"amount": 5, "customer": "ada"})
{'amount': 5, 'id': 'pay_ada_5'}
>>> async def main(db):
...     async with app.engine(db=db, fast_forward=True) as wf:     # the 1h sleep takes no time
...         pid = await wf.start("app:order_workflow", None,
...                              {"id": 7, "total": 30, "customer_id": "ada", "shipping_address": "1 Main St"})
...         return await wf.result(pid)
>>> asyncio.run(main(tempfile.mkdtemp() + "/shop.db"))
{'payment_id': 'pay_ada_30', 'status': 'completed', 'tracking': 'TRK-7'}
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .catalog import Catalog
from .codec import JSONValue
from .core.options import OptionError, parse_workflow_options
from .embedded.clock import Clock, VirtualClock
from .embedded.engine import EmbeddedEngine
from .embedded.retention import RetentionPolicy
from .engine import StartRequest
from .errors import CallError, ConfigError, Failure, Location, invalid
from .lifecycle import LifecycleBus, log_subscriber
from .logs import ensure_default_handler, events_subscriber, log_line
from .registry import Registry, is_app_dir, load_app
from .runtime.boot import RuntimeServices
from .runtime.boot import configure as configure_runtime
from .runtime.functions import FunctionDef, FunctionRuntime

if TYPE_CHECKING:
    from .http import HttpServices

F = TypeVar("F", bound=Callable[..., Any])


def stderr_log(pid: str, text: str) -> None:
    """The default ``log`` of an :class:`App`: Lua ``print`` lines through :mod:`logging`
    (logger ``duralua.print``, see :mod:`duralua.logs`), on stderr when nothing else logs."""
    log_line(pid, text)


class App:
    """A loaded app: its registry, Lua functions and Python function entries."""

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        registry: Registry | None = None,
        log: Callable[[str, str], None] | None = stderr_log,
        memory_limit: int | None = None,
        instruction_budget: int | None = None,
        retention: str | int | None = None,
    ) -> None:
        """``retention``: how long the embedded engine keeps closed runs before pruning them
        with their history (a duration such as ``"7d"`` or ``"72h"``, or ``"forever"``; default
        7 days). A ``temporal.worker`` entry's ``meta.retention`` overrides it for its runs."""
        if registry is None:
            if path is None:
                raise ConfigError("App needs an app directory (or a registry)")
            if Path(path).is_dir() and not is_app_dir(path):
                # Loading would scan every file below (a home directory, /tmp) for definitions.
                raise ConfigError(f"{path} is not an app: it has no wippy.lock and no definition files at its top "
                                  "level", hint="pass the app's directory (the one with wippy.lock)")  # fmt: skip
            registry = load_app(path)
        self.registry = registry
        self.catalog = Catalog(registry)
        self.retention = RetentionPolicy.of(self.catalog, retention)
        # Every engine of this app reports on one lifecycle stream (logs, UI and metrics read it).
        self.lifecycle = LifecycleBus()
        if log is stderr_log:
            services = frozenset(e.id for e in registry.entries.values() if e.kind == "http.service")

            def default_log(source: str, text: str) -> None:
                log_line(source, text, access=source in services)

            log = default_log
            ensure_default_handler()
            self.lifecycle.subscribe(events_subscriber())
        elif log is not None:
            self.lifecycle.subscribe(log_subscriber(log))
        self.log = log
        self.runtime = FunctionRuntime(
            node=registry.node_name, log=log, memory_limit=memory_limit, instruction_budget=instruction_budget
        )
        for entry in self.catalog.lua_functions():
            self.runtime.add(
                FunctionDef(
                    entry.id,
                    code=self.catalog.code_of(entry.id),
                    options=dict(self.catalog.function_options.get(entry.id, {})),
                )
            )
        configure_runtime(self.runtime, registry, self.catalog)  # process hosts, events, env...

    # -- functions -----------------------------------------------------------------------------

    def function(self, entry_id: str, *, worker: str | None = None, local: bool = False) -> Callable[[F], F]:
        """Register a Python callable as a function entry (and as an activity of ``worker``).

        It is called from Lua exactly like a Lua function: ``funcs.call(entry_id, ...)``.
        Raise :class:`duralua.CallError` to fail with a specific kind.
        """
        if ":" not in entry_id:
            raise ConfigError(f"function id {entry_id!r} must be namespace:name")

        def register(fn: F) -> F:
            self.runtime.add(FunctionDef(entry_id, python=fn))
            if worker is not None:
                w = self.catalog.workers.get(worker)
                if w is None:
                    raise ConfigError(f"worker {worker} is not a temporal.worker entry of this app",
                                      location=Location(entry=entry_id))  # fmt: skip
                w.activities.add(entry_id)
                if local:
                    w.local_activities.add(entry_id)
            return fn

        return register

    def call(self, entry_id: str, *args: JSONValue, context: dict[str, Any] | None = None) -> JSONValue:
        """Call a function entry synchronously; raises :class:`CallError` if it fails."""
        return self.runtime.call(entry_id, list(args), context)

    async def acall(self, entry_id: str, *args: JSONValue, context: dict[str, Any] | None = None) -> JSONValue:
        return await self.runtime.acall(entry_id, list(args), context)

    # -- workflows -----------------------------------------------------------------------------

    def engine(
        self,
        db: str | Path = ".duralua/duralua.db",
        *,
        synchronous: str = "FULL",
        cache_size: int = 4096,
        clock: Clock | None = None,
        fast_forward: bool = False,
        gc_tuning: bool = True,
        park_sleepers: bool = True,
    ) -> Workflows:
        """The embedded engine for this app (``async with app.engine() as wf: ...``).

        ``fast_forward=True`` runs it on a :class:`VirtualClock` that jumps to the next timer
        whenever the engine is idle (demos and scripts: a ``time.sleep("1h")`` takes no real
        time, the workflow still sees the hour pass). Tests use
        :class:`duralua.testing.WorkflowEnvironment`.

        While it serves, the engine raises the garbage collector's first threshold (700 to
        10,000 allocations) unless the application set its own; ``gc_tuning=False`` leaves the
        collector alone (why: ``duralua.gcpolicy``). A run that waits only for a timer at least
        2 s away is parked (its live state dropped, rebuilt when the timer fires);
        ``park_sleepers=False`` keeps such runs in the cache while it has room.
        """
        if fast_forward and clock is None:
            clock = VirtualClock()
        if fast_forward and not clock.virtual:  # type: ignore[union-attr]
            raise ConfigError("fast_forward needs a VirtualClock (or no clock)")
        engine = EmbeddedEngine(self.catalog, self.runtime, db, synchronous=synchronous, cache_size=cache_size,
                                clock=clock, log=self.log, events=self.lifecycle,
                                retention=self.retention, gc_tuning=gc_tuning,
                                park_sleepers=park_sleepers)  # fmt: skip
        return Workflows(self, engine, fast_forward=fast_forward)

    # -- HTTP (duralua.http) ---------------------------------------------------------------------

    def http_services(
        self, *, services: list[str] | None = None, announce: Callable[[str], None] | None = None
    ) -> HttpServices:
        """The app's ``http.service`` entries (``async with app.http_services() as web:``).

        Start it after the engine the handlers spawn on and stop it before (in-flight requests
        finish first). ``web.addresses`` maps each service to the URL it listens on.
        """
        from .http import HttpServices

        return HttpServices(self.registry, self.runtime, log=self.log, services=services, announce=announce)

    # -- processes and services (duralua.runtime) ------------------------------------------------

    def serve_runtime(
        self, *, control: str | Path | None = None, services: bool = True, notify: Callable[[str], None] | None = None
    ) -> RuntimeServices:
        """Process hosts, supervised services and (with ``control``, the database path) the
        control channel the CLI reaches the running app through: ``async with
        app.serve_runtime(): ...``. Start it after the engine that services spawn on."""
        return RuntimeServices(self.runtime, self.registry, self.lifecycle, control=control, services=services,
                               root=str(self.registry.root), notify=notify)  # fmt: skip

    def default_worker(self) -> str:
        workers = list(self.catalog.workers)
        if len(workers) != 1:
            raise ConfigError("this app has several temporal.worker entries; name the worker explicitly")
        return workers[0]


async def skip_idle_time(engine: EmbeddedEngine, stop: asyncio.Event | None = None) -> None:
    """Move a virtual clock to the next timer whenever the engine has nothing else to do.

    Ends when ``stop`` is set: a cancellation can be lost inside ``wait_idle`` (its
    ``asyncio.wait_for`` swallows one that arrives as its timeout fires, Python < 3.12).
    """
    while stop is None or not stop.is_set():
        await engine.wait_idle()
        nxt = engine.next_wakeup_ns()
        if nxt is None:
            await asyncio.sleep(0.05)
        else:
            engine.advance_clock(nxt)
            await asyncio.sleep(0)


class Workflows:
    """Start, signal and await workflows on an engine (async context manager)."""

    def __init__(self, app: App, engine: EmbeddedEngine, *, fast_forward: bool = False) -> None:
        self.app = app
        self.engine = engine
        self.fast_forward = fast_forward
        self._skipper: asyncio.Task[None] | None = None
        self._stop_skipping = asyncio.Event()

    async def __aenter__(self) -> Workflows:
        await self.engine.start()
        if self.fast_forward:
            self._stop_skipping.clear()
            self._skipper = asyncio.create_task(skip_idle_time(self.engine, self._stop_skipping),
                                                name="duralua-fast-forward")  # fmt: skip
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._skipper is not None:
            self._stop_skipping.set()
            self._skipper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._skipper
            self._skipper = None
        await self.engine.stop()

    async def start(
        self,
        workflow: str,
        worker: str | None = None,
        *args: JSONValue,
        workflow_id: str | None = None,
        options: dict[str, Any] | None = None,
        context: dict[str, Any] | None = None,
    ) -> str:
        """Start a workflow entry; returns its PID.

        ``worker`` defaults to the one the workflow names in ``meta.temporal.workflow.worker``
        (as ``duralua workflow start`` does), so ``start("app:order_workflow", None, order)``
        works in an app with several workers.
        """
        try:
            opts = parse_workflow_options(options or {})
        except OptionError as exc:
            raise CallError(invalid(str(exc))) from None
        wid = workflow_id if workflow_id is not None else opts.pop("id", None)
        request = StartRequest(workflow, worker or self._worker_of(workflow), list(args), opts, context or {}, wid)
        return await self.engine.start_workflow(request)

    def _worker_of(self, workflow: str) -> str:
        wf = self.app.catalog.workflows.get(workflow)
        if wf is not None:
            return wf.worker_id
        workers = list(self.app.catalog.workers)
        # An unknown workflow: the engine refuses it with a NotFound naming the workflow.
        return workers[0] if len(workers) == 1 else ""

    async def signal(self, pid: str, topic: str, *payloads: JSONValue) -> None:
        await self.engine.signal(pid, topic, list(payloads))

    async def result(self, pid: str) -> JSONValue:
        """Wait for the workflow's result; raises :class:`CallError` if it failed."""
        value, failure = await self.engine.result(pid)
        if failure is not None:
            raise CallError(failure)
        return value

    async def outcome(self, pid: str) -> tuple[JSONValue, Failure | None]:
        return await self.engine.result(pid)

    async def execute(self, workflow: str, worker: str | None = None, *args: JSONValue, **kw: Any) -> JSONValue:
        pid = await self.start(workflow, worker, *args, **kw)
        return await self.result(pid)

    async def update(self, pid: str, name: str, *args: JSONValue, update_id: str | None = None) -> JSONValue:
        """Send an update (spec workflows.md §7.6) and return the workflow's ``ok`` result;
        raises :class:`CallError` for ``nak`` (kind Invalid), ``error`` (kind Internal) or a run
        that closes first. The same ``update_id`` asks for the same update again."""
        value, failure = await self.engine.update(pid, name, list(args), update_id=update_id)
        if failure is not None:
            raise CallError(failure)
        return value

    async def query(self, pid: str, name: str) -> JSONValue:
        """What a query of the run answers: ``pid``, ``state`` or a ``workflow.set_query`` name."""
        return await self.engine.query(pid, name)

    async def terminate(self, pid: str, reason: str = "") -> None:
        await self.engine.terminate(pid, reason)

    async def cancel(self, pid: str) -> None:
        await self.engine.cancel(pid)


__all__ = ["App", "VirtualClock", "Workflows"]
