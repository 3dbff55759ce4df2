"""The embedded engine's in-memory state and the lookups every part of it shares.

Split from the engine by concern: :mod:`.state` (what the engine holds), :mod:`.commands`
(what a workflow command or a start writes into a batch), :mod:`.engine` (the loops, group
commit, rollback and the public API), :mod:`.queries` (read-only helpers shared with the CLI).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ..catalog import Catalog
from ..codec import DEFAULT_PAYLOAD_LIMIT, decode
from ..core import model as m
from ..core.history import ActivationRecord, History, HistoryLimits
from ..core.machine import WorkflowMachine
from ..core.pid import parse_pid
from ..errors import (
    CallError,
    EngineError,
    WorkflowNotFound,
    not_found,
)
from ..lifecycle import ENGINE_NOTICE, LifecycleBus, LifecycleEvent, log_subscriber
from ..runtime.functions import FunctionRuntime
from .activities import ActivityRunner, ActivityTask
from .clock import Clock
from .livecache import DEFAULT_MEMORY, LiveCache
from .owner import OwnerLock
from .queries import CLOSED
from .retention import RetentionPolicy
from .store import Store

if TYPE_CHECKING:
    from .engine import EmbeddedEngine

Logger = Callable[[str, str], None]
_pylog = logging.getLogger("duralua.engine")


class OwnershipLost(Exception):
    """Another engine wrote its owner row into our database: stop before doing anything twice."""


@dataclass
class _Pending:
    """A job waiting for the run's next activation, and the rows to delete when consumed."""

    job: m.Job
    input_id: int | None = None
    timer: int | None = None
    task: int | None = None
    batch: int = 0  # the batch that created it (a failed commit drops that batch's jobs)

    @property
    def unbacked(self) -> bool:
        """Not yet on disk: it must be written unless this batch's activation consumes it."""
        return self.input_id is None and self.timer is None and self.task is None


@dataclass
class _Live:
    machine: WorkflowMachine
    history: History
    row: dict[str, Any]
    _options: dict[str, Any] | None = None
    saved_queries: dict[str, Any] = field(default_factory=dict)  # what the row's queries column holds
    memory: Callable[[], int] | None = None  # bytes in use by the run's Lua state

    def memory_used(self) -> int:
        return self.memory() if self.memory is not None else 0

    def row_options(self) -> dict[str, Any]:
        if self._options is None:
            raw = self.row["options"]
            self._options = decode(raw) if isinstance(raw, str) else dict(raw)
        return self._options


@dataclass
class _Batch:
    """Writes and after-commit effects collected while activating a batch of runs."""

    inputs: list[tuple[str, m.Job]] = field(default_factory=list)
    after: list[Callable[[], None]] = field(default_factory=list)
    ops: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    eager: list[ActivityTask] = field(default_factory=list)
    waiters: list[asyncio.Future[None]] = field(default_factory=list)
    # Jobs taken out of the pending lists while building this batch (consumed by an
    # activation, or dropped with a terminated run): put back if the commit fails.
    taken: list[tuple[str, list[_Pending]]] = field(default_factory=list)
    # Undo steps for in-memory bookkeeping (fresh rows...) of one run's failed activation.
    undo: list[Callable[[], None]] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)
    # Runs given jobs made in this batch (not on disk yet): the commit writes those it leaves
    # unconsumed. Scanning every pending run instead cost O(sleepers) per commit at a mass wake.
    job_runs: dict[str, None] = field(default_factory=dict)

    def sql(self, query: str, *params: Any) -> None:
        self.ops.append((query, params))

    def mark(self) -> tuple[int, ...]:
        return (len(self.ops), len(self.inputs), len(self.after), len(self.eager), len(self.undo))

    def reset(self, mark: tuple[int, ...]) -> None:
        """Take back what was added since ``mark`` (one run's failed activation or request)."""
        ops, inputs, after, eager, undo = mark
        for step in reversed(self.undo[undo:]):
            step()
        del self.ops[ops:], self.inputs[inputs:], self.after[after:], self.eager[eager:], self.undo[undo:]


class EngineState:
    """Everything the engine keeps in memory, and the lookups shared by its parts."""

    def __init__(
        self,
        catalog: Catalog,
        runtime: FunctionRuntime,
        db_path: str | Path,
        *,
        synchronous: str = "FULL",
        cache_size: int = 4096,
        cache_memory: int = DEFAULT_MEMORY,
        history_limits: HistoryLimits | None = None,
        retention: RetentionPolicy | None = None,
        clock: Clock | None = None,
        payload_limit: int = DEFAULT_PAYLOAD_LIMIT,
        log: Logger | None = None,
        memory_limit: int | None = None,
        instruction_budget: int | None = None,
        batch_size: int = 512,
        poll_interval: float = 0.1,
        eager_activities: bool = True,
        events: LifecycleBus | None = None,
        gc_tuning: bool = True,
        park_sleepers: bool = True,
    ) -> None:
        if events is None:
            # A bus of our own: nobody else turns its events into log lines.
            events = LifecycleBus()
            if log is not None:
                events.subscribe(log_subscriber(log))
        self.events = events
        self.catalog = catalog
        self.runtime = runtime
        self.db_path = Path(db_path)
        self.synchronous = synchronous
        self.cache_size = cache_size
        self.cache_memory = cache_memory
        self.history_limits = history_limits or HistoryLimits()
        # Closed runs past it are pruned in the group commits (the app's, or the catalog's).
        self.retention = retention or RetentionPolicy.of(catalog)
        self.clock = clock or Clock()
        self.payload_limit = payload_limit
        self._log = log
        # Not given: the app's (App(memory_limit=..., instruction_budget=...)), as for its functions.
        app_memory, app_budget = runtime.limits
        self._limits = (app_memory if memory_limit is None else memory_limit,
                        app_budget if instruction_budget is None else instruction_budget)  # fmt: skip
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.store: Store | None = None
        self._lock = OwnerLock(self.db_path)
        self._batch_no = 0
        self._request_mark = 0  # requests up to this id are applied or in the next commit
        self._storage_error: str | None = None
        self.fatal_error: EngineError | None = None
        self._fatal_waiters: list[asyncio.Future[EngineError]] = []
        self._cache = LiveCache(cache_size, cache_memory)
        self._pending: dict[str, list[_Pending]] = {}
        self._ready: OrderedDict[str, None] = OrderedDict()
        self._kick = asyncio.Event()
        self._timers: list[tuple[int, str, int]] = []
        self._timer_kick = asyncio.Event()
        self._due_held = False  # due timers left in the heap for later (clockwork._release_due_timers)
        self._wakeups: list[int] = []
        self.virtual_sleepers = 0
        self._outbox = _Batch()
        self._fresh_rows: dict[str, dict[str, Any]] = {}
        self._fresh_runs: dict[str, str] = {}
        # Children started by this batch, by parent run (not in the database's index yet).
        self._fresh_children: dict[str, list[str]] = {}
        self._fresh_history: dict[str, list[tuple[ActivationRecord, str, int]]] = {}  # (record, encoded, idx)
        self.eager_activities = eager_activities
        self.gc_tuning = gc_tuning  # see gcpolicy.py
        self.park_sleepers = park_sleepers  # see livecache.PARK_BASE_NS
        self._gc_release: Callable[[], None] | None = None
        self._clock_waiters: list[asyncio.Future[None]] = []
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._idle_waiters: list[asyncio.Future[None]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._instance = uuid.uuid4().hex[:8] + "-" + uuid.uuid4().hex[:4]
        self._wid_counter = itertools.count(1)
        self.activities = ActivityRunner(cast("EmbeddedEngine", self))
        self.running = False
        self.held_reasons: dict[str, str] = {}
        # Runs rebuilt in a Lua state of their own after one they shared ran out of memory.
        self._exclusive: set[str] = set()
        # Callers waiting for an update's outcome (update id -> (run id, futures)), and update
        # ids admitted by the batch being built (so one is admitted once).
        self._update_waiters: dict[str, tuple[str, list[asyncio.Future[None]]]] = {}
        self._fresh_updates: set[str] = set()
        # Live-state cache counters, reported per commit on the lifecycle stream (metrics).
        self.cache_hits = self.cache_misses = self.cache_evictions = 0
        self.cache_parks = 0  # runs evicted at once because they sleep (livecache.PARK_BASE_NS)
        self._filling: _Batch | None = None  # the batch being filled (eager attempts report into it)

    async def _submit(self, fill: Callable[[_Batch], Any]) -> Any:
        """Add writes to the next group commit and wait until it is durable (the engine's)."""
        raise NotImplementedError

    def _db(self) -> Store:
        assert self.store is not None, "engine not started"
        return self.store

    def _say(self, text: str, kind: str = ENGINE_NOTICE) -> None:
        _pylog.info("%s", text)
        self.events.emit(LifecycleEvent(kind, subject=str(self.db_path), message=text))

    def _emit_later(self, batch: _Batch, event: LifecycleEvent) -> None:
        """Emit once the batch is committed: nothing is reported that a crash could take back."""
        batch.after.append(lambda: self.events.emit(event))

    def _mark_ready(self, run_id: str) -> None:
        self._ready[run_id] = None
        self._kick.set()

    def _evict(self, run_id: str) -> None:
        live = self._cache.pop(run_id)
        if live is not None:
            self._close_evicted((live,))

    def _close_evicted(self, evicted: Iterable[_Live]) -> None:
        for live in evicted:
            self.cache_evictions += 1
            live.machine.close()

    def _run_row(self, run_id: str) -> dict[str, Any] | None:
        live = self._cache.get(run_id)
        if live is not None:
            return live.row
        fresh = self._fresh_rows.get(run_id)
        if fresh is not None:
            return fresh
        return self._db().run_row(run_id)

    def _latest_row(self, workflow_id: str) -> dict[str, Any] | None:
        run_id = self._fresh_runs.get(workflow_id)
        if run_id is not None:
            row = self._run_row(run_id)
            if row is not None:
                return row
        row = self._db().latest_run(workflow_id)
        if row is not None:
            # Closed (or changed) earlier in this batch: the in-memory row is the truth until commit.
            fresh: dict[str, Any] = self._fresh_rows.get(str(row["run_id"]), row)
            return fresh
        return None

    def _wake_waiters(self, run_id: str) -> None:
        for fut in self._waiters.pop(run_id, []):
            if not fut.done():
                fut.set_result(None)

    def _wake_update(self, update_id: str) -> None:
        entry = self._update_waiters.pop(update_id, None)
        for fut in entry[1] if entry else []:
            if not fut.done():
                fut.set_result(None)

    def _wake_updates_of(self, run_id: str) -> None:
        for update_id in [u for u, (r, _f) in self._update_waiters.items() if r == run_id]:
            self._wake_update(update_id)

    def _resolve_run(self, pid_or_id: str) -> dict[str, Any]:
        p = parse_pid(pid_or_id)
        workflow_id = p.uniq if p else pid_or_id
        row = self._latest_row(workflow_id)
        if row is None:
            raise WorkflowNotFound(f"no workflow with id {workflow_id}",
                                   hint="`duralua workflow list` shows the known runs")  # fmt: skip
        return row

    def _resolve_run_or_call_error(self, pid: str) -> dict[str, Any]:
        try:
            return self._resolve_run(pid)
        except WorkflowNotFound as exc:
            raise CallError(not_found(str(exc))) from None

    def _open_run(self, workflow_id: str, batch: _Batch) -> str | None:
        row = self._latest_row(workflow_id)
        if row is None or row["status"] in CLOSED:
            return None
        return str(row["run_id"])

    def owns(self, pid: str) -> bool:
        p = parse_pid(pid)
        if p is None:
            return False
        return p.host in self.catalog.workers or p.node in {w.client_id for w in self.catalog.workers.values()} \
            or p.host in self.catalog.queues or p.host == "temporal"  # fmt: skip
