"""The embedded engine: durable workflows in one process, persisted in SQLite.

One asyncio task drives everything. Runs with new jobs are *ready*; the loop takes a batch
of ready runs, activates each run's machine (from the live-state cache, or rebuilt by
replaying its history), and writes every resulting change — history rows, timers, activity
tasks, jobs for other runs, status changes — in ONE transaction (group commit). Effects
outside the database (starting activities, arming timers, waking waiters) happen only
after the commit, so a crash at any point leaves a consistent database that recovery
resumes from: committed events are never lost, workflow code takes effect exactly once,
activities run at least once.
"""

from __future__ import annotations

import asyncio
import heapq
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import gcpolicy
from .. import lifecycle as lc
from ..codec import JSONValue, decode, dumps
from ..core import model as m
from ..core.history import ActivationRecord, History, replay
from ..core.machine import WorkflowMachine
from ..durations import humanize_ns
from ..engine import RunSummary, StartRequest
from ..errors import (
    INVALID,
    UNAVAILABLE,
    BudgetExceeded,
    CallError,
    DuraluaError,
    EngineError,
    Failure,
    LuaError,
    MemoryLimitExceeded,
    NondeterminismError,
)
from ..lifecycle import LifecycleEvent
from ..lua.workflow_program import LuaWorkflowProgram, StateCrowded
from . import retention
from .activities import ActivityTask
from .clockwork import RunClock
from .livecache import park_horizon_ns
from .queries import CLOSED, list_runs, load_history, outcome, summary_of, task_from_row
from .state import Logger, OwnershipLost, _Batch, _Live, _Pending, _pylog
from .store import REQUEST_RETENTION_NS, Store

__all__ = ["CLOSED", "EmbeddedEngine", "Logger", "list_runs", "load_history", "summary_of"]


class EmbeddedEngine(RunClock):
    """A durable workflow engine in this process. Use as ``async with`` or start()/stop()."""

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        existed = self._check_not_deleted()
        self._lock.acquire()
        try:
            self.store = Store(self.db_path, synchronous=self.synchronous)
            self._take_ownership()
            self._recover()
        except BaseException:
            if self.store is not None:
                self.store.close()
                self.store = None
            self._lock.release()
            raise
        if not existed:
            self._say(f"created a new database at {self.db_path}")
        for note in self.activities.limit_notes():
            self._say(note)
        self.runtime.engine = self
        self.runtime.worker_ids = set(self.catalog.workers)
        if self.clock.virtual:
            self.runtime.clock_ns = self.clock.now_ns
            self.runtime.sleep_ns = self.sleep_ns
        self.running = True
        if self.gc_tuning and self._gc_release is None:
            self._gc_release = gcpolicy.tune()
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._supervised("activations", self._main_loop), name="duralua-activations"),
            loop.create_task(self._supervised("timers", self._timer_loop), name="duralua-timers"),
            loop.create_task(self._supervised("requests", self._request_loop), name="duralua-requests"),
        ]

    def _check_not_deleted(self) -> bool:
        """False for a new database; refuses one whose side files say it was deleted."""
        real = self._lock.real_path
        if real.exists():
            return True
        leftovers = [p for p in (Path(f"{real}-wal"), Path(f"{real}-shm")) if p.exists()]
        if leftovers:
            raise EngineError(
                f"the database {self.db_path} is missing but {leftovers[0].name} is still there: it was deleted or "
                "moved while an engine used it",
                hint=f"restore the file; to start over with an empty database, delete {leftovers[0]} too",
            )
        return False

    def _take_ownership(self) -> None:
        """Write our owner row; every later commit checks it is still ours (see owner.py)."""
        store = self._db()
        with store.transaction() as db:
            Store.set_owner(db, {"token": self._lock.token, "since_ns": time.time_ns()})

    async def _supervised(self, name: str, body: Callable[[], Any]) -> None:
        """Run one engine loop; restart it if it crashes, stop the engine if it keeps crashing."""
        crashes: list[float] = []
        while True:
            try:
                await body()
                return
            except asyncio.CancelledError:
                raise
            except OwnershipLost as exc:
                self._fatal(str(exc))
                return
            except EngineError as exc:
                self._fatal(exc.message)
                return
            except Exception as exc:
                _pylog.exception("engine loop %s crashed", name)
                now = time.monotonic()
                crashes = [t for t in crashes if now - t < 60] + [now]
                if len(crashes) > 5:
                    self._fatal(f"the engine's {name} loop failed {len(crashes)} times in a minute: "
                                f"{type(exc).__name__}: {exc}")  # fmt: skip
                    return
                self._say(f"the engine's {name} loop failed ({type(exc).__name__}: {exc}); restarting it",
                          lc.ENGINE_ERROR)  # fmt: skip
                await asyncio.sleep(0.1)

    def _fatal(self, reason: str) -> None:
        """Stop serving for good: the database is no longer ours or no longer there."""
        if self.fatal_error is not None:
            return
        error = EngineError(reason, hint="the engine stopped; nothing more is written to the database")
        self.fatal_error = error
        self.running = False
        self._say(f"fatal: {reason}", lc.ENGINE_FATAL)
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        for fut in self._fatal_waiters:
            if not fut.done():
                fut.set_result(error)
        failed: list[asyncio.Future[None]] = [*self._outbox.waiters, *self._idle_waiters]
        for futs in self._waiters.values():
            failed.extend(futs)
        self._fatal_waiters, self._idle_waiters = [], []
        self._waiters.clear()
        for waiter in failed:
            if not waiter.done():
                waiter.set_exception(error)

    async def wait_fatal(self) -> EngineError:
        """Return when the engine had to stop by itself (database deleted, taken over...)."""
        if self.fatal_error is not None:
            return self.fatal_error
        fut: asyncio.Future[EngineError] = asyncio.get_running_loop().create_future()
        self._fatal_waiters.append(fut)
        return await fut

    async def stop(self) -> None:
        self.running = False
        if self._gc_release is not None:
            self._gc_release()
            self._gc_release = None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        await self.activities.stop()
        for live in self._cache.values():
            live.machine.close()
        self._cache.clear()
        if self.store is not None:
            self.store.close()
            self.store = None
        self._lock.release()

    async def __aenter__(self) -> EmbeddedEngine:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _recover(self) -> None:
        """Re-dispatch everything that was in flight when the last process stopped."""
        store = self._db()
        for run_id in store.runs_with_inputs():
            for input_id, job in store.inputs(run_id):
                self._pending.setdefault(run_id, []).append(_Pending(m.job_from_json(job), input_id=input_id))
            self._mark_ready(run_id)
        for run_id, seq, fire_ns in store.timers():
            heapq.heappush(self._timers, (fire_ns, run_id, seq))
        for row in store.tasks():
            self.activities.dispatch(task_from_row(row))
        for row in store.runs("WHERE status = 'held'"):
            self._mark_ready(row["run_id"])

    # -- the activation loop ------------------------------------------------------------------

    async def _main_loop(self) -> None:
        while True:
            self._release_due_timers()  # a backlog of due timers, as the batches drain it
            if not self._ready and not self._outbox_used():
                self._notify_idle()
                await self._kick.wait()
            self._kick.clear()
            try:
                self._run_batch()
            except sqlite3.Error as exc:
                # The batch was rolled back, in the database and in memory (_rollback): its jobs
                # are pending again and its callers were told, so a transient problem (disk
                # full, I/O error) loses nothing and does nothing twice. Retry until it passes.
                if self._storage_error is None:
                    self._say(f"database error: {exc}; nothing was lost, retrying every 0.5 s until it accepts writes",
                              lc.ENGINE_ERROR)  # fmt: skip
                self._storage_error = str(exc)
                await asyncio.sleep(0.5)
                continue
            if self._storage_error is not None:
                self._storage_error = None
                self._say("the database accepts writes again; resuming")
            await asyncio.sleep(0)

    def _outbox_used(self) -> bool:
        box = self._outbox
        return bool(box.inputs or box.ops or box.after or box.waiters)

    async def _submit(self, fill: Callable[[_Batch], Any]) -> Any:
        """Add writes to the next group commit and wait until it is durable."""
        box = self._outbox
        value = fill(box)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        box.waiters.append(fut)
        self._kick.set()
        await fut
        return value

    def _absorb(self, batch: _Batch) -> None:
        """Jobs produced in this batch become pending at once, so the same batch can consume them."""
        for run_id, job in batch.inputs:
            self._pending.setdefault(run_id, []).append(_Pending(job, batch=self._batch_no))
            batch.job_runs[run_id] = None
            self._mark_ready(run_id)
        batch.inputs.clear()

    def _run_batch(self) -> None:
        """One group commit: API writes, then as many activations as are ready (up to a cap),
        including the follow-ups they cause (children, eager activities), in one transaction."""
        batch, self._outbox = self._outbox, _Batch()
        self._batch_no += 1
        cache_before = (self.cache_hits, self.cache_misses, self.cache_evictions, self.cache_parks)
        self._filling = batch
        try:
            self._fill_batch(batch)
            self._filling = None
            began = time.perf_counter_ns()
            self._commit(batch)
            commit_ns = time.perf_counter_ns() - began
        except BaseException:
            self._filling = None
            self._rollback(batch)
            raise
        self._after_commit(batch)
        self.events.emit(LifecycleEvent(lc.ENGINE_COMMIT, subject=str(self.db_path), data={
            "duration_ns": commit_ns, "writes": len(batch.ops), "runs": len(batch.taken),
            "cache_hits": self.cache_hits - cache_before[0], "cache_misses": self.cache_misses - cache_before[1],
            "cache_evictions": self.cache_evictions - cache_before[2],
            "cache_parks": self.cache_parks - cache_before[3]}))  # fmt: skip

    def _fill_batch(self, batch: _Batch) -> None:
        self._absorb(batch)
        steps = 0
        while self._ready and steps < self.batch_size:
            run_id, _ = self._ready.popitem(last=False)
            steps += 1
            pend = self._pending.pop(run_id, [])
            row = self._run_row(run_id)
            if row is None or row["status"] in CLOSED:
                # A closed run takes no more jobs (its timers/tasks were dropped with it), but
                # messages that reached a run that continued as new belong to its successor.
                if row is not None and row["status"] == "continued":
                    self._forward_messages(row, pend, batch)
                batch.taken.append((run_id, pend))
                continue
            prepared = self._prepare_jobs(run_id, row, pend, batch)
            if prepared is None:
                continue
            pend = prepared
            if row["status"] == "held":
                row["status"] = "running"
                batch.sql("UPDATE runs SET status = 'running', reason = '' WHERE run_id = ?", run_id)
            mark = batch.mark()
            try:
                self._activate(run_id, row, pend, batch)
            except Exception as exc:
                # Whatever goes wrong while stepping this run stays with this run: its partial
                # writes are taken back, it is held with the reason, the batch goes on.
                batch.reset(mark)
                self._pending.setdefault(run_id, [])[0:0] = pend
                if isinstance(exc, StateCrowded):
                    # The Lua state it shares ran out of memory, maybe not its doing: rebuilt in a
                    # state of its own in this batch, held only if it reaches the limit there too.
                    self._evict(run_id)
                    self._exclusive.add(run_id)
                    self._mark_ready(run_id)
                else:
                    self._hold(run_id, row, exc, batch)
                continue
            batch.taken.append((run_id, pend))
            self._run_eager(batch)
            self._absorb(batch)
            if run_id in self._ready:
                # Its eager activities finished: continue this run first, while its Lua state is
                # still cached (breadth-first over hundreds of runs would evict and replay).
                self._ready.move_to_end(run_id, last=False)
        for run_id, entries in self._fresh_history.items():
            if entries:  # once per run and batch, not per activation (a workflow often runs 4 in one)
                batch.sql("UPDATE runs SET activations = ? WHERE run_id = ?", entries[-1][2], run_id)
        for run_id, pend in batch.taken:
            for p in pend:
                if p.input_id is not None:
                    batch.sql("DELETE FROM inputs WHERE id = ?", p.input_id)
                if p.timer is not None:
                    batch.sql("DELETE FROM timers WHERE run_id = ? AND seq = ?", run_id, p.timer)
                if p.task is not None:
                    batch.sql("DELETE FROM tasks WHERE run_id = ? AND seq = ?", run_id, p.task)

    def _forward_messages(self, row: dict[str, Any], pend: list[_Pending], batch: _Batch) -> None:
        signals = [p.job for p in pend if isinstance(p.job, m.Signal)]
        if not signals:
            return
        target = self._open_run(str(row["workflow_id"]), batch)
        if target is not None:
            for job in signals:
                batch.inputs.append((target, job))

    def _rollback(self, batch: _Batch) -> None:
        """Undo in memory what the failed batch did, so memory matches the last commit again."""
        for live in self._cache.values():
            live.machine.close()
        self._cache.clear()
        self._fresh_rows.clear()
        self._fresh_children.clear()
        self._fresh_runs.clear()
        self._fresh_history.clear()
        self._fresh_updates.clear()
        current = self._batch_no
        # Jobs made by this batch (activation follow-ups, eager results, API writes) are
        # dropped: re-running the activations makes them again. Jobs it took are put back.
        for run_id in list(self._pending):
            kept = [p for p in self._pending[run_id] if p.batch != current]
            if kept:
                self._pending[run_id] = kept
            else:
                del self._pending[run_id]
        for run_id, pend in reversed(batch.taken):
            older = [p for p in pend if p.batch != current]
            if older:
                self._pending.setdefault(run_id, [])[0:0] = older
        for run_id in self._pending:
            self._mark_ready(run_id)
        if batch.requests:
            # Requests of this batch are still queued in the database: read them again.
            self._request_mark = min(self._request_mark, min(batch.requests) - 1)
        error = CallError(Failure("the database did not accept the write (disk full or I/O error); nothing was "
                                  "recorded, retry later", UNAVAILABLE, True))  # fmt: skip
        for fut in batch.waiters:
            if not fut.done():
                fut.set_exception(error)

    def _commit(self, batch: _Batch) -> None:
        store = self._db()
        unbacked = [(run_id, p, dumps(p.job.to_json())) for run_id in batch.job_runs
                    for p in self._pending.get(run_id, ()) if p.unbacked]  # fmt: skip
        with store.transaction() as db:
            owner = store.owner()
            if owner is None or owner.get("token") != self._lock.token:
                raise OwnershipLost(
                    f"another engine took over the database {self.db_path} "
                    f"({(owner or {}).get('token', 'owner row removed')}); this one stops to avoid running work twice"
                )
            for query, params in batch.ops:
                db.execute(query, params)
            for run_id, p, job in unbacked:
                cur = db.execute("INSERT INTO inputs(run_id, job) VALUES (?, ?)", (run_id, job))
                p.input_id = int(cur.lastrowid or 0)

    def _after_commit(self, batch: _Batch) -> None:
        self._fresh_rows.clear()
        self._fresh_children.clear()
        self._fresh_runs.clear()
        self._fresh_history.clear()
        self._fresh_updates.clear()
        for effect in batch.after:
            effect()
        for fut in batch.waiters:
            if not fut.done():
                fut.set_result(None)

    def _run_eager(self, batch: _Batch) -> None:
        """Run just-scheduled activities right away when they finish synchronously (trivial Lua
        or Python functions): their result feeds the next activation in this same batch, so a
        workflow of quick activities costs one commit. At-least-once still holds: if the
        process dies before the commit, nothing was recorded and the activities run again."""
        tasks, batch.eager = batch.eager, []
        for task in tasks:
            done = self.activities.try_eager(task)
            if done is not None:
                value, failure = done
                self._pending.setdefault(task.run_id, []).append(
                    _Pending(m.ResolveActivity(seq=task.seq, result=value, failure=failure), batch=self._batch_no)
                )
                batch.job_runs[task.run_id] = None
                self._mark_ready(task.run_id)
                continue
            self._persist_task(task, batch)

    def _machine(self, run_id: str, row: dict[str, Any]) -> _Live:
        live = self._cache.get(run_id)
        if live is not None and live.machine.program.usable:
            self.cache_hits += 1
            return live
        self.cache_misses += 1
        if live is not None:
            # Its Lua state reached a limit (maybe another run's doing): rebuilt elsewhere from
            # the history it has (the cached row's activation count is not kept up to date).
            history = live.history
            self._evict(run_id)
        else:
            info = m.WorkflowInfo.from_json(decode(row["info"]))
            # A run that has not been activated before has no history rows to read.
            stored = self._db().history_records(run_id) if int(row.get("activations") or 0) > 0 else []
            history = History.from_encoded(info, stored)
            for record, encoded, _idx in self._fresh_history.get(run_id, []):  # this batch's, not committed yet
                history.append(record, encoded)
        info = history.info
        program, machine = self._new_machine(info, history, exclusive=run_id in self._exclusive)
        try:
            replay(machine, history)
        except BaseException:
            machine.close()
            raise
        saved = decode(row.get("queries") or "{}")
        live = _Live(machine, history, row, saved_queries=saved if isinstance(saved, dict) else {},
                     memory=program.memory_used)  # fmt: skip
        self._close_evicted(self._cache.add(run_id, live))
        return live

    def _new_machine(self, info: m.WorkflowInfo, history: History, *,
                     exclusive: bool = False) -> tuple[LuaWorkflowProgram, WorkflowMachine]:  # fmt: skip
        wf = self.catalog.workflows.get(info.workflow_type)
        if wf is None:
            raise DuraluaError(f"workflow type {info.workflow_type} is not registered in this app")
        program = LuaWorkflowProgram(wf.code, log=self._log, memory_limit=self._limits[0],
                                     instruction_budget=self._limits[1], exclusive=exclusive,
                                     scope=self.catalog)  # fmt: skip
        return program, WorkflowMachine(
            info,
            program,
            activity_defaults=self.catalog.activity_defaults,
            recorded_versions=history.recorded_versions(),
            payload_limit=self.payload_limit,
        )

    def _activate(self, run_id: str, row: dict[str, Any], pend: list[_Pending], batch: _Batch) -> None:
        live = self._machine(run_id, row)
        history = live.history
        now = self.clock.now_ns()
        if history.activations and now < history.activations[-1].time_ns:
            now = history.activations[-1].time_ns  # the workflow clock never goes backwards
        jobs = [p.job for p in pend]
        before = (history.length(), history.size())
        suggested = self.history_limits.suggested(*before)
        started = time.monotonic()
        commands = live.machine.activate(m.Activation(now, jobs, False, before[0] + 1, before[1], suggested))
        task_timeout = live.row_options().get("task_timeout_ns")
        if task_timeout and (time.monotonic() - started) * 1e9 > int(task_timeout):
            # Temporal drops a late workflow task and retries it; held is this engine's retry.
            raise DuraluaError(f"the workflow task took {humanize_ns(int((time.monotonic() - started) * 1e9))}, "
                               f"over the run's task_timeout of {humanize_ns(int(task_timeout))}")  # fmt: skip
        record = ActivationRecord(now, jobs, commands, suggested)
        encoded = dumps(record.to_json())
        history.append(record, encoded)
        idx = len(history.activations)
        fresh = self._fresh_history.setdefault(run_id, [])
        entry = (record, encoded, idx)
        fresh.append(entry)
        batch.undo.append(lambda: _remove_identical(fresh, entry))
        batch.sql("INSERT INTO history(run_id, idx, record) VALUES (?, ?, ?)", run_id, idx, encoded)
        if live.machine.queries != live.saved_queries:
            self._save_queries(run_id, live, batch)
        for cmd in commands:
            self._apply(run_id, live, cmd, now, batch)
        if live.machine.finished is None:
            self._check_history(run_id, live, before, now, batch)
        if self.cache_size <= 0 or live.machine.finished is not None or live.row["status"] in CLOSED:
            self._evict(run_id)
        elif self.park_sleepers and self._parks(live, now):
            self.cache_parks += 1
            self._evict(run_id)
        else:
            self._cache.touch(run_id)  # its history and Lua heap grew: renew its priority and size
            self._close_evicted(self._cache.shrink(keep=run_id))

    @staticmethod
    def _parks(live: _Live, now: int) -> bool:
        """A run asleep until a timer far enough away keeps nothing in memory but the timer."""
        due = live.machine.timers_only_until()
        return due is not None and due - now >= park_horizon_ns(live)

    def _save_queries(self, run_id: str, live: _Live, batch: _Batch) -> None:
        before, text = live.saved_queries, live.row.get("queries")
        live.saved_queries = dict(live.machine.queries)
        live.row["queries"] = dumps(live.saved_queries)
        batch.sql("UPDATE runs SET queries = ? WHERE run_id = ?", live.row["queries"], run_id)

        def undo() -> None:
            live.saved_queries, live.row["queries"] = before, text

        batch.undo.append(undo)

    def _hold(self, run_id: str, row: dict[str, Any], exc: Exception, batch: _Batch) -> None:
        self._evict(run_id)
        if isinstance(exc, (NondeterminismError, BudgetExceeded, MemoryLimitExceeded, LuaError, DuraluaError)):
            reason = f"{type(exc).__name__}: {exc}"
        else:
            # Not a failure of the workflow code we know of: an engine bug or an unexpected
            # value. Holding (not failing) lets a fixed version resume the run.
            _pylog.error("run %s: internal error while stepping", run_id, exc_info=exc)
            reason = f"internal error while stepping the run: {type(exc).__name__}: {exc}"
        reason = reason[:2000]
        row["status"] = "held"
        self.held_reasons[run_id] = reason
        batch.sql("UPDATE runs SET status = 'held', reason = ? WHERE run_id = ?", reason, run_id)
        self._emit_later(batch, LifecycleEvent(lc.RUN_HELD, subject=str(row.get("workflow_id", "")), run_id=run_id,
                                               entry=str(row.get("workflow_type", "")), message=reason))  # fmt: skip

    # -- commands -------------------------------------------------------------------------------

    # -- starting -------------------------------------------------------------------------------

    async def start_workflow(self, request: StartRequest) -> str:
        info, options = self.prepare_start(request)
        pid: str = await self._submit(lambda box: self._start_prepared(info, options, request, box))
        return pid

    # -- signals and control ---------------------------------------------------------------------

    async def signal(self, pid: str, topic: str, payloads: list[JSONValue], sender: str = "") -> None:
        await self._submit(lambda box: self._signal(box, pid, topic, payloads, sender))

    async def terminate(self, pid: str, reason: str = "") -> None:
        row = self._resolve_run_or_call_error(pid)
        if row["status"] in CLOSED:
            return
        await self._submit(lambda box: self._terminate_row(row, reason or "terminated", box))

    async def cancel(self, pid: str) -> None:
        row = self._resolve_run_or_call_error(pid)
        if row["status"] in CLOSED:
            return
        await self._submit(lambda box: box.inputs.append((row["run_id"], m.CancelRequested())))

    # -- results and queries ---------------------------------------------------------------------

    async def result(self, pid: str) -> tuple[JSONValue, Failure | None]:
        row = self._resolve_run_or_call_error(pid)
        while True:
            if row["status"] == "continued":
                nxt = self._db().latest_run(row["workflow_id"])
                if nxt is not None and nxt["run_id"] != row["run_id"]:
                    row = nxt
                    continue
            elif row["status"] in ("failed", "timed_out") or (row["status"] == "completed" and
                                                              decode(row["options"]).get("cron_schedule")):  # fmt: skip
                # A failed attempt may be retried under the same id, and a cron run is followed
                # by the next one: the result is the chain's (as Temporal's follow_runs).
                nxt = self._db().latest_run(row["workflow_id"])
                if nxt is not None and nxt["run_id"] != row["run_id"]:
                    row = nxt
                    continue
            if row["status"] in CLOSED:
                return outcome(row)
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.setdefault(row["run_id"], []).append(fut)
            await fut
            fresh = self._db().run_row(row["run_id"])
            assert fresh is not None
            row = fresh

    async def describe(self, pid_or_id: str) -> RunSummary:
        return summary_of(self._resolve_run(pid_or_id))

    async def list_runs(
        self,
        *,
        status: str | None = None,
        workflow_type: str | None = None,
        query: dict[str, Any] | None = None,
    ) -> list[RunSummary]:
        return list_runs(self._db(), status=status, workflow_type=workflow_type, query=query)

    def history(self, pid_or_id: str) -> History:
        row = self._resolve_run(pid_or_id)
        return load_history(self._db(), row)

    # -- activities ------------------------------------------------------------------------------

    def activity_done(self, task: ActivityTask, result: JSONValue, failure: Failure | None) -> None:
        """An activity finished for good (success or final failure): feed it to its run."""
        job = m.ResolveActivity(seq=task.seq, result=result, failure=failure)
        self._pending.setdefault(task.run_id, []).append(_Pending(job, task=task.seq))
        self._mark_ready(task.run_id)

    def activity_attempt_failed(self, task: ActivityTask, failure: Failure, final: bool) -> None:
        """An attempt failed: retried at ``task.ready_ns`` (already advanced), or for good."""
        wid = self._workflow_of(task.run_id)
        data: dict[str, Any] = {"attempt": task.attempt if final else task.attempt - 1, "kind": failure.kind}
        if not final:
            data["retry_in"] = humanize_ns(max(task.ready_ns - self.clock.now_ns(), 0))
            data["next_retry_ns"] = task.ready_ns
        self.events.emit(LifecycleEvent(lc.ACTIVITY_FAILED if final else lc.ACTIVITY_RETRY, subject=wid,
                                        run_id=task.run_id, entry=task.activity_type, message=failure.message,
                                        data=data))  # fmt: skip

    def activity_attempt_ended(self, task: ActivityTask, started_ns: int, failure: Failure | None) -> None:
        """One attempt ran (wall-clock ``started_ns`` to now): for metrics and traces."""
        data: dict[str, Any] = {"attempt": task.attempt, "started_ns": started_ns, "ok": failure is None,
                                "duration_ns": max(time.time_ns() - started_ns, 0), "context": task.context,
                                "seq": task.seq}  # fmt: skip
        if failure is not None:
            data["kind"] = failure.kind
        event = LifecycleEvent(lc.ACTIVITY_ATTEMPT, subject=self._workflow_of(task.run_id), run_id=task.run_id,
                               entry=task.activity_type, message=failure.message if failure else "",
                               data=data)  # fmt: skip
        if self._filling is not None:
            # An eager attempt inside a batch: report it after the commit, in order with the
            # batch's other events (after its run's start, before its run's close).
            self._emit_later(self._filling, event)
        else:
            self.events.emit(event)

    def _workflow_of(self, run_id: str) -> str:
        live = self._cache.get(run_id)
        if live is not None:
            return live.machine.info.workflow_id
        try:
            row = self._run_row(run_id)
        except sqlite3.Error:
            row = None
        return str(row["workflow_id"]) if row else run_id

    def activity_crashed(self, task: ActivityTask, exc: Exception) -> None:
        _pylog.error("activity %s of run %s crashed", task.activity_type, task.run_id, exc_info=exc)
        self._say(f"activity {task.activity_type} of run {task.run_id}, attempt {task.attempt}, crashed: "
                  f"{type(exc).__name__}: {exc}")  # fmt: skip

    def persist_attempt(self, task: ActivityTask) -> None:
        """Record the next attempt's number and time; best effort (the task row still holds it)."""
        try:
            with self._db().transaction() as db:
                failure = dumps(task.last_failure.to_json()) if task.last_failure else ""
                db.execute("UPDATE tasks SET attempt = ?, ready_ns = ?, last_failure = ? WHERE run_id = ? AND seq = ?",
                           (task.attempt, task.ready_ns, failure, task.run_id, task.seq))  # fmt: skip
        except sqlite3.Error as exc:
            # Losing this write only means a restart counts the attempt again.
            self._say(f"could not record attempt {task.attempt} of activity {task.activity_type}: {exc}")

    # -- requests from other processes -----------------------------------------------------------

    async def _request_loop(self) -> None:
        last_purge = 0.0
        last_prune = self.clock.now_ns() - retention.PRUNE_EVERY_NS  # engine clock: a virtual one expires runs too
        while True:
            await asyncio.sleep(self.poll_interval)
            problem = self._lock.file_changed()
            if problem is not None:
                raise EngineError(problem, hint="restore the file and start `duralua run` again")
            try:
                requests = self._db().take_requests(self._request_mark)
            except sqlite3.Error:
                continue
            for req_id, kind, body in requests:
                self._handle_request(req_id, kind, body)
                self._request_mark = max(self._request_mark, req_id)
            if time.monotonic() - last_purge > 60:
                last_purge = time.monotonic()
                self._outbox.sql("DELETE FROM requests WHERE state != 'queued' AND created_ns < ?",
                                 time.time_ns() - REQUEST_RETENTION_NS)  # fmt: skip
            if self.clock.now_ns() - last_prune >= retention.PRUNE_EVERY_NS:
                last_prune = self.clock.now_ns()
                # closed runs past retention
                for sql, params in retention.engine_prune_statements(self.retention, last_prune):
                    self._outbox.sql(sql, *params)
                self._kick.set()

    def _handle_request(self, req_id: int, kind: str, body: Any) -> None:
        """Apply a request from another process. Its outcome is written in the same transaction
        as its effects, so a crash never applies it twice or loses it, and the sender can read
        whether it took effect."""
        box = self._outbox
        mark = box.mark()
        outcome: dict[str, Any] = {}
        try:
            if not isinstance(body, dict):
                raise CallError(Failure("malformed request", INVALID, False))
            if kind == "start":
                req = StartRequest(**body)
                req.messages = [(str(t), list(p)) for t, p in req.messages]
                info, options = self.prepare_start(req)
                outcome["pid"] = self._start_prepared(info, options, req, box)
            elif kind == "signal":
                self._signal(box, str(body["pid"]), body["topic"], body.get("payloads", []),
                             str(body.get("sender", "")))  # fmt: skip
            elif kind == "update":
                outcome["update_id"] = self._admit_update(box, str(body["pid"]), body["name"],
                                                          body.get("payloads", []), str(body["update_id"]))  # fmt: skip
            elif kind in ("terminate", "cancel"):
                row = self._resolve_run_or_call_error(str(body["pid"]))
                if row["status"] in CLOSED:
                    outcome["note"] = f"already {row['status']}"
                elif kind == "terminate":
                    self._terminate_row(row, str(body.get("reason", "")), box)
                else:
                    box.inputs.append((row["run_id"], m.CancelRequested()))
            else:
                raise CallError(Failure(f"unknown request kind {kind!r}", INVALID, False))
        except Exception as exc:
            box.reset(mark)
            failure = exc.failure if isinstance(exc, CallError) else None
            message = failure.message if failure is not None else f"{type(exc).__name__}: {exc}"
            self._say(f"request {req_id} ({kind}) failed: {message}")
            kind_of = (failure.kind if failure else "") or INVALID
            box.sql("UPDATE requests SET state = 'failed', outcome = ? WHERE id = ?",
                    dumps({"error": message, "kind": kind_of}), req_id)  # fmt: skip
        else:
            box.sql("UPDATE requests SET state = 'done', outcome = ? WHERE id = ?", dumps(outcome), req_id)
        box.requests.append(req_id)
        self._kick.set()


def _remove_identical(items: list[Any], item: Any) -> None:
    """Remove ``item`` itself (``list.remove`` would take the first *equal* one)."""
    for i, other in enumerate(items):
        if other is item:
            del items[i]
            return
