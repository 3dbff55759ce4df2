"""Clients and workers of an app on Temporal (``duralua run --engine temporal``).

Every ``temporal.client`` entry becomes a :class:`temporalio.client.Client` and every
``temporal.worker`` entry a :class:`temporalio.worker.Worker` on its effective task queue,
registering the one dynamic workflow and the one dynamic activity of :mod:`.dynamic`. The
app's function runtime gets a :class:`~duralua.temporal.engine.TemporalEngine`, so
``process.spawn``/``send`` from Lua functions reach Temporal.

Search attributes an app relies on can be declared on a ``temporal.client`` or
``temporal.worker`` entry as ``meta.search_attributes: {Name: Type}`` (or passed as
``search_attributes=``); the ones missing from the namespace are registered at start.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import sys
import threading
from collections.abc import Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from .. import gcpolicy
from ..codec import DEFAULT_PAYLOAD_LIMIT, JSONValue
from ..core.scheduler import Delivery
from ..errors import ConfigError, EngineError, Location
from ..telemetry import temporal_interceptors
from . import search
from .config import client_connect_kwargs, client_notes, runs_workflows, worker_kwargs
from .converter import DATA_CONVERTER
from .dynamic import WorkflowHost, activity_function, workflow_class
from .engine import TemporalEngine
from .events import LoopEmitter
from .inline import InlineExecutor
from .interceptors import ClientInterceptor, WorkerInterceptor
from .runtime import ensure_runtime

if TYPE_CHECKING:
    from ..app import App

Notify = Callable[[str], None]
T = TypeVar("T")
#: How long a workflow task waits for the server to register a search attribute it sets.
REGISTER_TIMEOUT = 1.5


def _run_aside(job: Coroutine[Any, Any, T], timeout: float) -> T:
    """Run ``job`` to its end on a loop of a helper thread, blocking this thread meanwhile."""
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="duralua-register") as helper:
        return helper.submit(asyncio.run, asyncio.wait_for(job, timeout)).result()


def _sources(app: App, worker_id: str) -> list[str]:
    """The Lua of the worker's workflows and of what they import."""
    out: list[str] = []
    seen: set[str] = set()
    todo = [wf.code for wf in app.catalog.workflows.values() if wf.worker_id == worker_id]
    while todo:
        code = todo.pop()
        if code.entry_id in seen:
            continue
        seen.add(code.entry_id)
        out.append(code.source)
        todo.extend(code.imports.values())
    return out


def _stderr(text: str) -> None:
    print(f"duralua: {text}", file=sys.stderr, flush=True)


async def connect_client(entry_id: str, data: Mapping[str, Any], env: Mapping[str, str]) -> Client:
    """A client for a ``temporal.client`` entry, with duralua's converter and header interceptor."""
    kwargs = client_connect_kwargs(entry_id, data, env)
    ensure_runtime()
    try:
        # temporalio's tracing interceptor when telemetry traces (workers built on the client get it too).
        interceptors = [ClientInterceptor(), *temporal_interceptors()]
        return await Client.connect(**kwargs, data_converter=DATA_CONVERTER, interceptors=interceptors)
    except Exception as exc:
        raise EngineError(
            f"cannot connect temporal.client {entry_id} to {kwargs['target_host']} "
            f"(namespace {kwargs['namespace']}): {exc}",
            hint="is the Temporal server running? `duralua dev-server` starts a local one",
        ) from exc


async def connect_engine(app: App, env: Mapping[str, str] | None = None) -> TemporalEngine:
    """A caller-side engine for ``app`` (its clients, no workers), wired into its function runtime.

    For processes that start and signal workflows served elsewhere (a CLI command, a web app).
    """
    env = os.environ if env is None else env
    clients = {
        entry.id: await connect_client(entry.id, entry.data, env)
        for entry in app.registry.entries.values()
        if entry.kind == "temporal.client"
    }
    engine = TemporalEngine(app.catalog, clients)
    app.runtime.engine = engine
    app.runtime.worker_ids = set(app.catalog.workers)
    return engine


class TemporalHost:
    """Runs an app's Temporal workers in this process (``async with TemporalHost(app): ...``)."""

    def __init__(
        self,
        app: App,
        *,
        env: Mapping[str, str] | None = None,
        search_attributes: Mapping[str, str] | None = None,
        notify: Notify | None = _stderr,
        payload_limit: int = DEFAULT_PAYLOAD_LIMIT,
        workers: list[str] | None = None,
        register_search_attributes: bool | None = None,
        gc_tuning: bool = True,
    ) -> None:
        """``register_search_attributes``: register the search attributes the app's workflows set
        (``workflow.attrs{search = ...}``) when the namespace lacks them, at start for literal
        values and at first use otherwise. None (default): only on a server on this machine
        (``duralua dev-server``), where the app may well own the namespace; a client entry's
        ``meta.register_search_attributes`` decides for that client. ``gc_tuning``: as for the
        embedded engine (``duralua.gcpolicy``), while the workers run."""
        self.app = app
        self.env = os.environ if env is None else env
        self.search_attributes = dict(search_attributes or {})
        self.notify = notify
        self.payload_limit = payload_limit
        self.worker_ids = list(app.catalog.workers) if workers is None else list(workers)
        self.clients: dict[str, Client] = {}
        self.schemas: dict[str, dict[str, str]] = {}
        self.workers: dict[str, Worker] = {}
        self.engine: TemporalEngine | None = None
        self._runs: list[asyncio.Task[None]] = []
        self._noted: set[str] = set()
        self.register_search_attributes = register_search_attributes
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self.gc_tuning = gc_tuning
        self._gc_release: Callable[[], None] | None = None

    def _note(self, text: str) -> None:
        if text in self._noted or self.notify is None:
            return
        self._noted.add(text)
        self.notify(text)

    async def __aenter__(self) -> TemporalHost:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        if self.gc_tuning and self._gc_release is None:
            self._gc_release = gcpolicy.tune()
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        app = self.app
        registry = app.registry
        for entry in registry.entries.values():
            if entry.kind != "temporal.client":
                continue
            for note in client_notes(entry.id, entry.data):
                self._note(f"{entry.id}: {note}")
            self.clients[entry.id] = await connect_client(entry.id, entry.data, self.env)
        for worker_id in self.worker_ids:
            wdef = app.catalog.workers.get(worker_id)
            if wdef is None:
                raise ConfigError(f"{worker_id} is not a temporal.worker entry of this app")
            if wdef.client_id not in self.clients:
                raise ConfigError(
                    f"worker {worker_id} names client {wdef.client_id!r}, which is not a temporal.client entry",
                    location=Location(entry=worker_id),
                )
            await self._schema(wdef.client_id, worker_id)
        self.engine = TemporalEngine(app.catalog, self.clients, payload_limit=self.payload_limit, schemas=self.schemas)
        app.runtime.engine = self.engine
        app.runtime.worker_ids = set(app.catalog.workers)
        loop = self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        runtime = app.runtime
        # Runs and activities report on the app's lifecycle stream (log lines, metrics).
        emit = LoopEmitter(app.lifecycle, loop)
        # Workflow activations run on this loop (inline.py); every app's Lua has an instruction
        # budget (App(instruction_budget=None) is the default one), which bounds a step.
        executor = InlineExecutor()

        def send_local(target: str, topic: str, payloads: list[JSONValue], sender: str) -> None:
            # Delivered after the step (whatever thread runs it): the function runtime lives on this loop.
            loop.call_soon_threadsafe(runtime.deliver, target, Delivery(topic, sender, list(payloads)))

        for worker_id in self.worker_ids:
            wdef = app.catalog.workers[worker_id]
            entry = registry.entries[worker_id]
            kwargs, notes = worker_kwargs(worker_id, entry.data, self.env)
            for note in notes:
                self._note(f"{worker_id}: {note}")
            host = WorkflowHost(
                app.catalog,
                wdef,
                self.schemas.get(wdef.client_id),
                log=app.log,
                memory_limit=app.runtime.limits[0],
                instruction_budget=app.runtime.limits[1],
                payload_limit=self.payload_limit,
                send_local=send_local,
                register_search=self._registrar(wdef.client_id) if self._may_register(wdef.client_id) else None,
                events=emit,
            )
            worker = Worker(
                self.clients[wdef.client_id],
                task_queue=wdef.task_queue,
                workflows=[workflow_class(host)] if runs_workflows(worker_id, entry.data) else [],
                activities=[activity_function(app.runtime, wdef, self.payload_limit, emit)],
                workflow_runner=UnsandboxedWorkflowRunner(),
                interceptors=[WorkerInterceptor()],
                workflow_task_executor=executor,
                **kwargs,
            )
            self.workers[worker_id] = worker
            self._runs.append(loop.create_task(self._run_worker(worker_id, worker), name=f"worker {worker_id}"))

    async def _run_worker(self, worker_id: str, worker: Worker) -> None:
        try:
            await worker.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._note(f"worker {worker_id} stopped: {exc}")

    def _declared(self, entry_id: str) -> dict[str, str]:
        entry = self.app.registry.entries.get(entry_id)
        if entry is None:
            return {}
        declared = entry.meta.get("search_attributes")
        if declared is None:
            return {}
        if not isinstance(declared, dict) or not all(isinstance(v, str) for v in declared.values()):
            raise ConfigError(
                "meta.search_attributes must map attribute names to types (e.g. OrderId: Keyword)",
                location=Location(entry=entry_id),
            )
        return {str(k): str(v) for k, v in declared.items()}

    async def _schema(self, client_id: str, worker_id: str) -> None:
        client = self.clients[client_id]
        if client_id not in self.schemas:
            try:
                self.schemas[client_id] = await search.fetch_schema(client, client.namespace)
            except Exception as exc:
                self._note(
                    f"cannot read the search attributes of namespace {client.namespace} ({exc}); "
                    "workflow.attrs is not checked"
                )
                return
        wanted = {**self._declared(client_id), **self._declared(worker_id), **self.search_attributes}
        if self._may_register(client_id):
            # Literal values in the code say their type; computed ones are typed at first use.
            used = search.used_in(_sources(self.app, worker_id))
            wanted = {**{k: v for k, v in used.items() if v is not None}, **wanted}
        if wanted:
            for note in await search.register_missing(client, client.namespace, wanted, self.schemas[client_id]):
                self._note(note)

    def _may_register(self, client_id: str) -> bool:
        if self.register_search_attributes is not None:
            return self.register_search_attributes
        entry = self.app.registry.entries.get(client_id)
        flag = entry.meta.get("register_search_attributes") if entry is not None else None
        if isinstance(flag, bool):
            return flag
        client = self.clients.get(client_id)
        host = client.service_client.config.target_host.rpartition(":")[0] if client is not None else ""
        return host.strip("[]") in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")

    def _registrar(self, client_id: str) -> search.Register:
        """Register one attribute from a workflow task, which waits (briefly) for it. The
        client lives on this loop: from an SDK thread the loop does it; from an activation run
        on the loop itself (inline.py) a helper thread does, on a loop of its own, while this
        one waits: once per attribute name, and only where registering is on (a local server)."""

        def register(name: str, kind: str) -> bool:
            loop, client = self._loop, self.clients.get(client_id)
            schema = self.schemas.get(client_id)
            if loop is None or client is None or schema is None:
                return False
            job = search.register_missing(client, client.namespace, {name: kind}, schema)
            try:
                if threading.get_ident() == self._loop_thread:
                    notes = _run_aside(job, REGISTER_TIMEOUT)
                else:
                    notes = asyncio.run_coroutine_threadsafe(job, loop).result(timeout=REGISTER_TIMEOUT)
                for note in notes:
                    loop.call_soon_threadsafe(self._note, note)
            except Exception as exc:
                loop.call_soon_threadsafe(self._note, f"could not register search attribute {name}: {exc}")
                return False
            return name in schema

        return register

    async def stop(self) -> None:
        if self._gc_release is not None:
            self._gc_release()
            self._gc_release = None
        workers, self.workers = list(self.workers.values()), {}
        await asyncio.gather(*(w.shutdown() for w in workers), return_exceptions=True)
        runs, self._runs = self._runs, []
        for task in runs:
            if not task.done():
                task.cancel()
        await asyncio.gather(*runs, return_exceptions=True)
        if self.engine is not None and self.app.runtime.engine is self.engine:
            self.app.runtime.engine = None
        self.engine = None
        self.clients = {}
