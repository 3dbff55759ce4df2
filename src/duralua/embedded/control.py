"""Run control beyond commands: engine timers (delayed first task, run and execution
deadlines), updates (spec workflows.md §7.6) and queries (§7.5). See :mod:`.state` for the split.

Engine timers live in the ``timers`` table beside the run's own, with negative sequence numbers
(:data:`.commands.START_SEQ`...), so they survive a crash and fire through the same loop.
An update is a message on topic ``<name>`` from ``{update|<id>}``; the run's replies are
commands in its history and its outcome is a row of ``updates`` written in the same commit.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from .. import lifecycle as lc
from ..codec import JSONValue, decode, encode
from ..core import model as m
from ..core.history import MIB
from ..core.machine import answer_query
from ..core.validate import check_topic, workflow_id_problem
from ..errors import INTERNAL, INVALID, TIMEOUT, CallError, EncodeError, Failure, WorkflowNotFound, not_found
from ..lifecycle import LifecycleEvent
from .commands import EXECUTION_DEADLINE, RUN_DEADLINE, START_SEQ, RunCommands
from .queries import CLOSED
from .state import _Batch, _Live, _Pending, _pylog


class RunControl(RunCommands):
    """Engine timers, updates and queries of the embedded engine."""

    # -- engine timers ----------------------------------------------------------------------------

    def _started(self, run_id: str, row: dict[str, Any]) -> bool:
        return run_id in self._cache or run_id in self._fresh_history or int(row.get("activations") or 0) > 0

    def _prepare_jobs(self, run_id: str, row: dict[str, Any], pend: list[_Pending],
                      batch: _Batch) -> list[_Pending] | None:  # fmt: skip
        """The jobs the run's next activation gets, or None when it gets none now: a deadline
        passed (the run is closed as timed out), or its first task is not due yet (its
        messages wait for it, as Temporal keeps signals of a run in start delay or cron wait)."""
        system = [p for p in pend if isinstance(p.job, m.FireTimer) and p.job.seq < 0]
        jobs = [p for p in pend if not (isinstance(p.job, m.FireTimer) and p.job.seq < 0)]
        for p in system:
            assert isinstance(p.job, m.FireTimer)
            if p.job.seq in (RUN_DEADLINE, EXECUTION_DEADLINE):
                batch.taken.append((run_id, pend))
                self._time_out(run_id, row, "run" if p.job.seq == RUN_DEADLINE else "execution", batch)
                return None
        if system:
            # The start timer's row is deleted when the StartWorkflow job made of it is consumed
            # (a failed commit puts that job back, not the timer: the start is made once).
            args = decode(row["info"]).get("args", [])
            jobs.insert(0, _Pending(m.StartWorkflow(args=args), timer=START_SEQ))
        if not any(isinstance(p.job, m.StartWorkflow) for p in jobs) and not self._started(run_id, row):
            self._pending.setdefault(run_id, [])[0:0] = jobs
            return None
        return jobs

    def _time_out(self, run_id: str, row: dict[str, Any], which: str, batch: _Batch) -> None:
        live = self._cache.get(run_id)
        info = live.machine.info if live is not None else m.WorkflowInfo.from_json(decode(row["info"]))
        self._evict(run_id)
        batch.taken.append((run_id, self._pending.pop(run_id, [])))
        batch.sql("DELETE FROM inputs WHERE run_id = ?", run_id)
        failure = Failure(f"workflow {which} timeout", TIMEOUT, False, {"timeout_type": which})
        self._end_run(run_id, row, info, "timed_out", None, failure, self.clock.now_ns(), batch)

    # -- history limits ---------------------------------------------------------------------------

    def _check_history(self, run_id: str, live: _Live, before: tuple[int, int], now: int, batch: _Batch) -> None:
        """After an activation that left the run open: fail it past the hard limit (its commands
        were applied, so the history stays what happened; closing drops its timers, tasks and
        children), or warn once when it crosses the warning threshold."""
        limits = self.history_limits
        length, size = live.history.length(), live.history.size()
        info = live.machine.info
        if limits.exceeded(length, size):
            failure = Failure(
                f"the history of workflow {info.workflow_id} grew to {length:,} events / {size:,} bytes, over the "
                f"limit of {_limit_text(limits.max_events, limits.max_bytes)}; the run is failed. Continue as new "
                "before that (workflow.info().continue_as_new_suggested tells when)",
                INTERNAL, False, {"history_length": length, "history_size": size},
            )  # fmt: skip
            batch.eager[:] = [t for t in batch.eager if t.run_id != run_id]
            self._close(run_id, live.row, "failed", None, failure, now, batch)
            return
        if limits.warned(length, size) and not limits.warned(*before):
            message = (f"the history of workflow {info.workflow_id} has {length:,} events / {size:,} bytes, over "
                       f"the warning threshold of {_limit_text(limits.warn_events, limits.warn_bytes)}; the run "
                       f"fails at {_limit_text(limits.max_events, limits.max_bytes)}: continue as new")  # fmt: skip
            event = LifecycleEvent(lc.RUN_HISTORY_LARGE, subject=info.workflow_id, run_id=run_id,
                                   entry=info.workflow_type, message=message,
                                   data={"history_length": length, "history_size": size})  # fmt: skip
            self._emit_later(batch, event)
            batch.after.append(lambda: _pylog.warning("%s", message))
            # describe, list and the UI show a running run's reason: the warning stays visible there.
            live.row["reason"] = message
            batch.sql("UPDATE runs SET reason = ? WHERE run_id = ?", message, run_id)

    # -- updates ----------------------------------------------------------------------------------

    def _admit_update(self, batch: _Batch, pid: str, name: str, payloads: list[JSONValue], update_id: str) -> str:
        """Write an update into ``batch``: its row and its message. An id already known is not
        admitted twice (asking again waits for the same outcome, as on Temporal)."""
        bad = check_topic(name)
        if bad is not None:
            raise CallError(Failure(bad.message.replace("signal topic", "update name"), INVALID, False))
        problem = workflow_id_problem(update_id)
        if problem is not None:
            raise CallError(Failure(problem.replace("workflow id", "update id"), INVALID, False))
        if not isinstance(payloads, list):
            raise CallError(Failure("update arguments must be a list", INVALID, False))
        try:
            encode(payloads, path="update arguments", limit=self.payload_limit)
        except EncodeError as exc:
            raise CallError(Failure(str(exc), INVALID, False)) from None
        if update_id in self._fresh_updates:
            return update_id
        known = self._db().update_row(update_id)
        if known is not None:
            return update_id
        try:
            row = self._resolve_run(pid)
        except WorkflowNotFound as exc:
            raise CallError(not_found(str(exc))) from None
        if row["status"] in CLOSED:
            raise CallError(not_found(f"workflow {row['workflow_id']} is not running (status {row['status']})"))
        now = self.clock.now_ns()
        batch.sql("INSERT INTO updates(update_id, run_id, workflow_id, name, created_ns) VALUES (?, ?, ?, ?, ?)",
                  update_id, row["run_id"], row["workflow_id"], name, now)  # fmt: skip
        self._fresh_updates.add(update_id)
        batch.undo.append(lambda: self._fresh_updates.discard(update_id))
        sender = m.update_sender(update_id)
        batch.inputs.append((row["run_id"], m.Signal(topic=name, sender=sender, payloads=list(payloads))))
        return update_id

    async def update(
        self, pid: str, name: str, payloads: list[JSONValue], *, update_id: str | None = None
    ) -> tuple[JSONValue, Failure | None]:
        """Send an update and wait for the workflow's answer: ``(result, None)`` after ``ok``,
        ``(None, failure)`` after ``nak`` (kind Invalid) or ``error`` (kind Internal), or
        when the run closes first. Raises CallError if it cannot be admitted."""
        uid = update_id or str(uuid.uuid4())
        await self._submit(lambda box: self._admit_update(box, pid, name, payloads, uid))
        while True:
            found = self.update_outcome(uid)
            if found is not None:
                return found
            row = self._db().update_row(uid)
            assert row is not None, "an admitted update has a row"
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            entry = self._update_waiters.setdefault(uid, (str(row["run_id"]), []))
            entry[1].append(fut)
            await fut

    def update_outcome(self, update_id: str) -> tuple[JSONValue, Failure | None] | None:
        """The outcome of a finished update; None while it is open (or unknown)."""
        row = self._db().update_row(update_id)
        return update_outcome_of(row)

    # -- queries ----------------------------------------------------------------------------------

    async def query(self, pid: str, name: str) -> JSONValue:
        """Answer a query from the run's last committed step: ``pid``, ``state`` or a name set
        with ``workflow.set_query``. Closed runs answer too (as on Temporal)."""
        try:
            row = self._resolve_run(pid)
        except WorkflowNotFound as exc:
            raise CallError(not_found(str(exc))) from None
        return query_row(row, name)


def _limit_text(events: int, size: int) -> str:
    parts = [f"{events:,} events"] if events else []
    if size:
        parts.append(f"{size / MIB:g} MB" if size % MIB == 0 else f"{size:,} bytes")
    return " / ".join(parts) or "none"


def query_row(row: dict[str, Any], name: str) -> JSONValue:
    raw = row.get("queries") or "{}"
    queries = decode(raw) if isinstance(raw, str) else dict(raw)
    known, value = answer_query(str(row["workflow_id"]), queries if isinstance(queries, dict) else {}, name)
    if not known:
        raise CallError(Failure(f"unknown query type: {name}", INVALID, False))
    return value


def update_outcome_of(row: dict[str, Any] | None) -> tuple[JSONValue, Failure | None] | None:
    if row is None or row["state"] in ("admitted", "accepted"):
        return None
    body = decode(row["outcome"]) if row["outcome"] else {}
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return None, Failure.from_json(body["error"])
    return (body.get("result") if isinstance(body, dict) else None), None


__all__ = ["TIMEOUT", "RunControl", "query_row", "update_outcome_of"]
