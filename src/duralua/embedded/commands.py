"""What workflow commands and starts write into a batch (see :mod:`.state` for the split)."""

from __future__ import annotations

import functools
import heapq
from dataclasses import dataclass
from typing import Any

from .. import lifecycle as lc
from ..codec import JSONValue, decode, dumps, encode
from ..core import cron
from ..core import model as m
from ..core.machine import search_attribute_type
from ..core.options import backoff_ns
from ..core.pid import PID, format_uniq
from ..core.validate import check_topic, check_workflow_id
from ..durations import SECOND, humanize_ns
from ..engine import StartRequest
from ..errors import (
    CANCELED,
    INVALID,
    CallError,
    EncodeError,
    Failure,
    WorkflowNotFound,
    not_found,
)
from ..lifecycle import LifecycleEvent
from .activities import ActivityTask
from .queries import CLOSED, new_run_id, seed
from .state import EngineState, _Batch, _Live

# Timers of the engine itself share the timers table with the run's own (whose seq is >= 1).
START_SEQ = -1  # the first task of a delayed or cron run
RUN_DEADLINE = -2
EXECUTION_DEADLINE = -3


class RunCommands(EngineState):
    """Turns commands, starts, signals and terminations into batch writes and effects."""

    def _apply(self, run_id: str, live: _Live, cmd: m.Command, now: int, batch: _Batch) -> None:
        info = live.machine.info
        if isinstance(cmd, m.ScheduleActivity):
            queue = str(cmd.options.get("task_queue") or info.task_queue)
            task = ActivityTask(run_id, cmd.seq, cmd.activity_type, queue, cmd.args, cmd.options, cmd.context,
                                1, now, now)  # fmt: skip
            if self.eager_activities:
                batch.eager.append(task)
            else:
                self._persist_task(task, batch)
        elif isinstance(cmd, m.RequestCancelActivity):
            batch.sql("DELETE FROM tasks WHERE run_id = ? AND seq = ?", run_id, cmd.target_seq)
            cancel_seq = cmd.target_seq
            batch.after.append(lambda: self.activities.cancel(run_id, cancel_seq))
        elif isinstance(cmd, m.StartTimer):
            fire = now + cmd.duration_ns
            batch.sql("INSERT INTO timers(run_id, seq, fire_ns) VALUES (?, ?, ?)", run_id, cmd.seq, fire)
            seq = cmd.seq
            batch.after.append(lambda: self._arm(fire, run_id, seq))
        elif isinstance(cmd, m.StartChild):
            self._start_child(run_id, info, cmd, now, batch)
        elif isinstance(cmd, m.SignalExternal):
            target = self._open_run(cmd.workflow_id, batch)
            if target is None:
                failure = not_found(f"workflow {cmd.workflow_id} not found or not running", retryable=False)
                batch.inputs.append((run_id, m.ResolveSignalExternal(seq=cmd.seq, failure=failure)))
            else:
                batch.inputs.append((target, m.Signal(topic=cmd.topic, sender=cmd.sender, payloads=cmd.payloads)))
                batch.inputs.append((run_id, m.ResolveSignalExternal(seq=cmd.seq)))
        elif isinstance(cmd, m.CancelExternal):
            target = self._open_run(cmd.workflow_id, batch)
            if target is None:
                failure = not_found(f"workflow {cmd.workflow_id} not found or not running", retryable=False)
                batch.inputs.append((run_id, m.ResolveCancelExternal(seq=cmd.seq, failure=failure)))
            else:
                batch.inputs.append((target, m.CancelRequested(sender=info.pid)))
                batch.inputs.append((run_id, m.ResolveCancelExternal(seq=cmd.seq)))
        elif isinstance(cmd, m.SendLocal):
            delivery = (cmd.target, cmd.topic, cmd.payloads, cmd.sender)
            batch.after.append(lambda: self._send_local(*delivery))
        elif isinstance(cmd, m.UpsertAttributes):
            row = live.row
            search = decode(row["search"]) if isinstance(row["search"], str) else dict(row["search"])
            memo = decode(row["memo"]) if isinstance(row["memo"], str) else dict(row["memo"])
            search.update(cmd.search or {})
            memo.update(cmd.memo or {})
            row["search"], row["memo"] = dumps(search), dumps(memo)
            batch.sql("UPDATE runs SET search = ?, memo = ? WHERE run_id = ?", row["search"], row["memo"], run_id)
        elif isinstance(cmd, m.UpdateReply):
            self._update_reply(run_id, cmd, now, batch)
        elif isinstance(cmd, m.CompleteWorkflow):
            self._end_run(run_id, live.row, info, "completed", cmd.result, None, now, batch, made=_made(live))
        elif isinstance(cmd, m.FailWorkflow):
            failure = cmd.failure
            status = "failed"
            if failure.kind == CANCELED and live.row_options().get("cron_schedule") and _cancel_requested(live):
                # Temporal stops a cron chain only for a run that ends *canceled*: a cron run
                # asked to cancel that gives up with a Canceled error closes so, on both engines.
                status, failure = "canceled", Failure("operation canceled", CANCELED, False)
            self._end_run(run_id, live.row, info, status, None, failure, now, batch, made=_made(live))
        elif isinstance(cmd, m.ContinueAsNew):
            self._close(run_id, live.row, "continued", None, None, now, batch, notify=False, made=_made(live))
            new_info = m.WorkflowInfo(**{**info.to_json(), "run_id": new_run_id(), "workflow_type":
                                         cmd.workflow_type, "seed": seed(), "start_time_ns": now})  # fmt: skip
            carried = [(str(d.get("topic", "")), list(d.get("payloads") or []), str(d.get("sender", "")))
                       for d in cmd.messages]  # fmt: skip
            self._insert_run(new_info, decode(live.row["options"]), cmd.args, carried, now, batch,
                             parent=(live.row["parent_run"], live.row["parent_seq"]))  # fmt: skip

    def _send_local(self, target: str, topic: str, payloads: list[JSONValue], sender: str) -> None:
        from ..core.scheduler import Delivery

        self.runtime.deliver(target, Delivery(topic, sender, list(payloads)))

    def _close(
        self, run_id: str, row: dict[str, Any], status: str, result: JSONValue, failure: Failure | None,
        now: int, batch: _Batch, *, notify: bool = True, made: _Made | None = None,
    ) -> None:  # fmt: skip
        """``made``: what the run's history says it made (None: not known), which saves the
        statements that look for open children and timer rows of a run that had none."""
        made = made or _UNKNOWN
        row["status"] = status
        # Until the commit, the database still says "running": later steps of this batch (its
        # parent closing, a signal) must see the run closed even after its live state is evicted.
        previous = self._fresh_rows.get(run_id)
        self._fresh_rows[run_id] = row

        def undo() -> None:
            if previous is None:
                self._fresh_rows.pop(run_id, None)
            else:
                self._fresh_rows[run_id] = previous

        batch.undo.append(undo)
        self._emit_later(batch, _closed_event(row, status, failure, now))
        batch.sql(
            "UPDATE runs SET status = ?, result = ?, failure = ?, close_ns = ?, reason = '' WHERE run_id = ?",
            status, dumps(result), dumps(failure.to_json()) if failure else None, now, run_id,
        )  # fmt: skip
        if made.timers:
            batch.sql("DELETE FROM timers WHERE run_id = ?", run_id)
        batch.sql("DELETE FROM tasks WHERE run_id = ?", run_id)
        batch.after.append(lambda: self.activities.cancel_run(run_id))
        # Updates still open end with the run (Temporal fails them the same way).
        gone = Failure(f"workflow {row.get('workflow_id', '')} closed ({status}) before the update completed",
                       m.UPDATE_FAILED_KIND, False)  # fmt: skip
        batch.sql("UPDATE updates SET state = 'failed', outcome = ?, closed_ns = ? WHERE run_id = ? "
                  "AND state IN ('admitted', 'accepted')", dumps({"error": gone.to_json()}), now, run_id)  # fmt: skip
        batch.after.append(lambda: self._wake_updates_of(run_id))
        if notify and row.get("parent_run"):
            batch.inputs.append(
                (
                    row["parent_run"],
                    m.ResolveChild(seq=int(row["parent_seq"]), result=result, failure=failure),
                )
            )
        # Children still running are terminated (Temporal's default parent close policy).
        # The database says what was open at the last commit; this batch may have closed a child
        # since (it completed just before its parent) or started one: ask the in-memory row.
        candidates = set(self._db().open_children(run_id)) if made.children else set()
        candidates.update(self._fresh_children.get(run_id, ()))
        for child_id in sorted(candidates):
            child = self._run_row(child_id)
            if child is None or child["status"] in CLOSED:
                continue
            policy = decode(child["options"]).get("parent_close_policy", "terminate")
            if policy == "terminate":
                child["status"] = "terminated"
                self._evict(child_id)
                batch.sql("UPDATE runs SET status = 'terminated', close_ns = ? WHERE run_id = ?", now, child_id)
                batch.after.append(functools.partial(self._wake_waiters, child_id))
            elif policy == "request_cancel":
                batch.inputs.append((child_id, m.CancelRequested()))
        batch.after.append(lambda: self._wake_waiters(run_id))

    def _end_run(
        self, run_id: str, row: dict[str, Any], info: m.WorkflowInfo, status: str, result: JSONValue,
        failure: Failure | None, now: int, batch: _Batch, *, made: _Made | None = None,
    ) -> None:  # fmt: skip
        """Close a run; a retry policy or a cron schedule may start the next run of the chain
        (the parent is told only when the chain ends)."""
        options = decode(row["options"])
        nxt = self._next_in_chain(row, info, options, status, failure, now)
        self._close(run_id, row, status, result, failure, now, batch, notify=nxt is None, made=made)
        if nxt is not None:
            new_info, start_at = nxt
            self._insert_run(new_info, options, decode(row["info"]).get("args", []), [], now, batch,
                             parent=(row["parent_run"], row["parent_seq"]), start_at=start_at)  # fmt: skip

    def _next_in_chain(
        self, row: dict[str, Any], info: m.WorkflowInfo, options: dict[str, Any], status: str,
        failure: Failure | None, now: int,
    ) -> tuple[m.WorkflowInfo, int] | None:  # fmt: skip
        """(info, first-task time) of the run that follows, as Temporal chains them: a retry
        (failed, or run timeout) first; the next cron run once retries are over; nothing
        after the execution timeout, a termination or a cancellation."""
        deadline = options.get("execution_deadline_ns")
        if deadline is not None and now >= int(deadline):
            return None
        policy = options.get("retry_policy")
        timed_out_run = status == "timed_out" and (failure is None or (failure.details or {}).get("timeout_type") ==
                                                   "run")  # fmt: skip
        if policy and failure is not None and (status == "failed" or timed_out_run) and \
                _retries(policy, failure, info, timed_out=timed_out_run):  # fmt: skip
            initial = int(policy.get("initial_interval_ns", SECOND))
            delay = backoff_ns(initial, float(policy.get("backoff_coefficient", 2.0)),
                               int(policy.get("maximum_interval_ns", 100 * initial)), info.attempt)  # fmt: skip
            new_info = m.WorkflowInfo(**{**info.to_json(), **_fresh_ids(now), "attempt": info.attempt + 1})
            return new_info, now + delay
        schedule = options.get("cron_schedule")
        if schedule and status in ("completed", "failed", "timed_out"):
            wait = cron.backoff_ns(cron.parse(str(schedule)), int(row.get("start_ns") or now), now)
            return m.WorkflowInfo(**{**info.to_json(), **_fresh_ids(now), "attempt": 1}), now + wait
        return None

    def _update_reply(self, run_id: str, cmd: m.UpdateReply, now: int, batch: _Batch) -> None:
        state = {"ack": "accepted", "nak": "rejected", "ok": "completed", "error": "failed"}[cmd.topic]
        if cmd.topic == "ack":
            batch.sql("UPDATE updates SET state = 'accepted' WHERE update_id = ? AND state = 'admitted'",
                      cmd.update_id)  # fmt: skip
            return
        if cmd.topic == "ok":
            body: dict[str, Any] = {"result": cmd.value}
        else:
            kind = m.UPDATE_REJECTED_KIND if cmd.topic == "nak" else m.UPDATE_FAILED_KIND
            body = {"error": Failure(str(cmd.value), kind, False).to_json()}
        batch.sql("UPDATE updates SET state = ?, outcome = ?, closed_ns = ? WHERE update_id = ? "
                  "AND state IN ('admitted', 'accepted')", state, dumps(body), now, cmd.update_id)  # fmt: skip
        update_id = cmd.update_id
        batch.after.append(lambda: self._wake_update(update_id))

    def _first_task_at(self, options: dict[str, Any], now: int) -> int | None:
        """When the first task of a new chain may run: after its start delay, or at the next
        match of its cron schedule (the first cron run waits for it, as on Temporal)."""
        delay = options.get("start_delay_ns")
        if delay:
            return now + int(delay)
        schedule = options.get("cron_schedule")
        if schedule:
            return now + cron.backoff_ns(cron.parse(str(schedule)), now, now)
        return None

    def _insert_run(
        self, info: m.WorkflowInfo, options: dict[str, Any], args: list[JSONValue],
        messages: list[tuple[str, list[JSONValue], str]], now: int, batch: _Batch,
        parent: tuple[str | None, int | None] = (None, None), start_at: int | None = None,
    ) -> None:  # fmt: skip
        data = info.to_json()
        data["args"] = args
        first = now if start_at is None else max(start_at, now)
        options = dict(options)
        options.pop("start_delay_ns", None)  # the delay is the first run's only: a retry or cron run has its own
        if options.get("execution_timeout_ns") and options.get("execution_deadline_ns") is None:
            # One deadline for the whole chain (retries, continue-as-new, cron runs), counted from
            # the start request (a start delay or cron wait included), as Temporal's; the run
            # timeout counts from the run's first task.
            options["execution_deadline_ns"] = now + int(options["execution_timeout_ns"])
        info_text, options_text = dumps(data), dumps(options)
        search = options.get("search_attributes")
        memo = options.get("memo")
        search_text, memo_text = dumps(search) if search else "{}", dumps(memo) if memo else "{}"
        batch.sql(
            "INSERT INTO runs(run_id, workflow_id, workflow_type, worker_id, task_queue, status, info, options, "
            "search, memo, start_ns, parent_run, parent_seq) VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?)",
            info.run_id, info.workflow_id, info.workflow_type, info.worker_id, info.task_queue, info_text,
            options_text, search_text, memo_text, now, parent[0], parent[1],
        )  # fmt: skip
        previous = self._fresh_runs.get(info.workflow_id)

        siblings = self._fresh_children.setdefault(parent[0], []) if parent[0] else None

        def undo() -> None:
            self._fresh_rows.pop(info.run_id, None)
            if siblings is not None and info.run_id in siblings:
                siblings.remove(info.run_id)
            if previous is None:
                self._fresh_runs.pop(info.workflow_id, None)
            else:
                self._fresh_runs[info.workflow_id] = previous

        batch.undo.append(undo)
        self._fresh_runs[info.workflow_id] = info.run_id
        if siblings is not None:
            siblings.append(info.run_id)
        self._fresh_rows[info.run_id] = {
            "run_id": info.run_id, "workflow_id": info.workflow_id, "workflow_type": info.workflow_type,
            "worker_id": info.worker_id, "task_queue": info.task_queue, "status": "running", "info": info_text,
            "options": options_text, "result": None, "failure": None, "reason": "", "search": search_text,
            "memo": memo_text, "start_ns": now, "close_ns": None, "parent_run": parent[0], "parent_seq": parent[1],
            "activations": 0, "queries": "{}",
        }  # fmt: skip
        if first > now:
            self._add_timer(info.run_id, START_SEQ, first, batch)
        else:
            batch.inputs.append((info.run_id, m.StartWorkflow(args=args)))
        if options.get("run_timeout_ns"):
            self._add_timer(info.run_id, RUN_DEADLINE, first + int(options["run_timeout_ns"]), batch)
        if options.get("execution_deadline_ns") is not None:
            self._add_timer(info.run_id, EXECUTION_DEADLINE, int(options["execution_deadline_ns"]), batch)
        self._emit_later(batch, LifecycleEvent(lc.RUN_STARTED, subject=info.workflow_id, run_id=info.run_id,
                                               entry=info.workflow_type, data={"attempt": info.attempt,
                                               "parent_run": parent[0], "context": info.context}))  # fmt: skip
        for topic, payloads, sender in messages:
            batch.inputs.append((info.run_id, m.Signal(topic=topic, sender=sender, payloads=payloads)))

    def _add_timer(self, run_id: str, seq: int, fire: int, batch: _Batch) -> None:
        batch.sql("INSERT INTO timers(run_id, seq, fire_ns) VALUES (?, ?, ?)", run_id, seq, fire)
        batch.after.append(lambda: self._arm(fire, run_id, seq))

    def _start_child(self, run_id: str, info: m.WorkflowInfo, cmd: m.StartChild, now: int, batch: _Batch) -> None:
        worker = self.catalog.worker_for_queue(cmd.task_queue)
        problem = None
        if worker is None:
            problem = f"no worker polls task queue {cmd.task_queue!r}"
        elif cmd.workflow_type not in self.catalog.workflows:
            problem = f"workflow {cmd.workflow_type} is not registered"
        else:
            reuse = str(cmd.options.get("id_reuse_policy") or "allow_duplicate")
            previous = self._latest_row(cmd.workflow_id)
            if previous is not None and previous["status"] not in CLOSED:
                if reuse == "terminate_if_running":
                    self._terminate_row(previous, "terminated by a new start (terminate_if_running)", batch)
                else:
                    problem = f"workflow {cmd.workflow_id} is already running"
            elif previous is not None and _reuse_refused(reuse, previous):
                problem = f"workflow id {cmd.workflow_id} was already used and its id_reuse_policy is {reuse}"
        if problem is not None or worker is None:
            failure = Failure(f"cannot start child workflow: {problem}", "AlreadyExists" if problem and
                              "already" in problem else INVALID, False)  # fmt: skip
            batch.inputs.append((run_id, m.ResolveChildStart(seq=cmd.seq, failure=failure)))
            return
        child = m.WorkflowInfo(
            workflow_id=cmd.workflow_id, run_id=new_run_id(), workflow_type=cmd.workflow_type,
            task_queue=cmd.task_queue, namespace=worker.namespace, client_id=info.client_id,
            worker_id=cmd.task_queue, seed=seed(), context=dict(cmd.context), parent_pid=info.pid,
            start_time_ns=now,
        )  # fmt: skip
        self._insert_run(child, cmd.options, cmd.args, [], now, batch, parent=(run_id, cmd.seq),
                         start_at=self._first_task_at(cmd.options, now))  # fmt: skip
        batch.inputs.append((run_id, m.ResolveChildStart(seq=cmd.seq, run_id=child.run_id)))

    def new_workflow_id(self) -> str:
        return f"{self._instance}_{format_uniq(next(self._wid_counter))}"

    def prepare_start(self, request: StartRequest) -> tuple[m.WorkflowInfo, dict[str, Any]]:
        """Validate a start request and build the new run's info (no I/O)."""
        worker = self.catalog.workers.get(request.worker_id)
        if worker is None:
            raise CallError(Failure(f"host not found: {request.worker_id} is not a temporal.worker of this app",
                                    "NotFound", False))  # fmt: skip
        if request.workflow_id is not None:
            bad = check_workflow_id(request.workflow_id)
            if bad is not None:
                raise CallError(bad)
        for topic, _payloads in request.messages:
            bad = check_topic(topic)
            if bad is not None:
                raise CallError(bad)
        wf = self.catalog.workflows.get(request.workflow_type)
        if wf is None:
            raise CallError(Failure(f"workflow {request.workflow_type} not found (no workflow.lua entry with that "
                                    "id names a worker)", "NotFound", False))  # fmt: skip
        if wf.worker_id != request.worker_id and request.options.get("task_queue") is None:
            raise CallError(Failure(f"workflow {request.workflow_type} is registered on {wf.worker_id}, "
                                    f"not on {request.worker_id}", INVALID, False))  # fmt: skip
        try:
            encode(request.args, path="input", limit=self.payload_limit)
        except EncodeError as exc:
            raise CallError(Failure(str(exc), INVALID, False)) from None
        search = request.options.get("search_attributes") or {}
        for key, value in search.items():
            if search_attribute_type(value) is None:
                raise CallError(Failure(f"search attribute {key}: unsupported value type", INVALID, False))
        workflow_id = request.workflow_id or self.new_workflow_id()
        info = m.WorkflowInfo(
            workflow_id=workflow_id, run_id=new_run_id(), workflow_type=request.workflow_type,
            task_queue=str(request.options.get("task_queue") or worker.task_queue), namespace=worker.namespace,
            client_id=worker.client_id, worker_id=request.worker_id, seed=seed(),
            # In the caller's task: propagators (telemetry) add its trace context to the run's.
            context=self.events.inject(dict(request.context)), start_time_ns=self.clock.now_ns(),
        )  # fmt: skip
        return info, {**request.options, "generated_id": request.workflow_id is None}

    def _start_prepared(
        self, info: m.WorkflowInfo, options: dict[str, Any], request: StartRequest, batch: _Batch
    ) -> str:
        """Write a start into ``batch`` per the id conflict/reuse policies; returns the PID."""
        generated = options.pop("generated_id", False)
        reuse = options.get("id_reuse_policy", "allow_duplicate")
        policy = options.get("id_conflict_policy")
        if reuse == "terminate_if_running":
            policy = "terminate_existing"  # what Temporal does with it (it predates conflict policies)
        elif policy is None:
            error_when_started = options.get("execution_error_when_already_started", generated)
            policy = "fail" if error_when_started else "use_existing"
        messages = [(t, p, request.sender) for t, p in request.messages]
        # An id this engine generated (its random instance tag and a counter) names no earlier
        # run: the lookup is skipped (one query per start).
        existing = None if generated else self._latest_row(info.workflow_id)
        if existing is not None and existing["status"] not in CLOSED:
            pid = str(PID(info.client_id, info.worker_id, info.workflow_id))
            if policy == "use_existing":
                for topic, payloads, sender in messages:
                    batch.inputs.append((existing["run_id"], m.Signal(topic=topic, sender=sender, payloads=payloads)))
                return pid
            if policy == "fail":
                raise CallError(Failure(f"workflow {info.workflow_id} is already running", "AlreadyExists", False))
            self._terminate_row(existing, "terminated by a new start (terminate_existing)", batch)
        elif existing is not None and _reuse_refused(reuse, existing):
            raise CallError(Failure(f"workflow id {info.workflow_id} was already used and its id_reuse_policy is "
                                    f"{reuse}", "AlreadyExists", False))  # fmt: skip
        now = info.start_time_ns
        self._insert_run(info, options, request.args, messages, now, batch, start_at=self._first_task_at(options, now))
        return info.pid

    def _terminate_row(self, row: dict[str, Any], reason: str, batch: _Batch) -> None:
        run_id = row["run_id"]
        failure = Failure("workflow terminated", CANCELED, False)
        self._evict(run_id)
        batch.taken.append((run_id, self._pending.pop(run_id, [])))
        batch.sql("DELETE FROM inputs WHERE run_id = ?", run_id)
        row = dict(row)
        self._close(run_id, row, "terminated", None, failure, self.clock.now_ns(), batch)
        batch.sql("UPDATE runs SET reason = ? WHERE run_id = ?", reason, run_id)

    def _persist_task(self, task: ActivityTask, batch: _Batch) -> None:
        batch.sql(
            "INSERT INTO tasks(run_id, seq, activity_type, task_queue, args, options, context, attempt, "
            "ready_ns, scheduled_ns, last_failure) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            task.run_id, task.seq, task.activity_type, task.task_queue, dumps(task.args), dumps(task.options),
            dumps(task.context), task.attempt, task.ready_ns, task.scheduled_ns,
            dumps(task.last_failure.to_json()) if task.last_failure else "",
        )  # fmt: skip
        batch.after.append(lambda: self.activities.dispatch(task))

    def _arm(self, fire_ns: int, run_id: str, seq: int) -> None:
        heapq.heappush(self._timers, (fire_ns, run_id, seq))
        self._timer_kick.set()

    def _signal(self, batch: _Batch, pid: str, topic: str, payloads: list[JSONValue], sender: str) -> None:
        bad = check_topic(topic)
        if bad is not None:
            raise CallError(bad)
        if not isinstance(payloads, list):
            raise CallError(Failure("signal payloads must be a list", INVALID, False))
        try:
            row = self._resolve_run(pid)
        except WorkflowNotFound as exc:
            raise CallError(not_found(str(exc))) from None
        if row["status"] in CLOSED:
            raise CallError(not_found(f"workflow {row['workflow_id']} is not running (status {row['status']})"))
        try:
            encode(payloads, path="payload", limit=self.payload_limit)
        except EncodeError as exc:
            raise CallError(Failure(str(exc), INVALID, False)) from None
        batch.inputs.append((row["run_id"], m.Signal(topic=topic, sender=sender, payloads=list(payloads))))
        self._emit_later(batch, LifecycleEvent(lc.RUN_SIGNALED, subject=str(row["workflow_id"]),
                                               run_id=str(row["run_id"]), entry=str(row["workflow_type"]),
                                               data={"topic": topic, "sender": sender}))  # fmt: skip


def _reuse_refused(reuse: str, closed: dict[str, Any]) -> bool:
    """Whether the reuse policy refuses a new run after the closed run ``closed``."""
    return reuse == "reject_duplicate" or (reuse == "allow_duplicate_failed_only" and closed["status"] == "completed")


def _retries(policy: dict[str, Any], failure: Failure, info: m.WorkflowInfo, *, timed_out: bool = False) -> bool:
    # A run timeout is retried (Temporal retries it) though callers see it as not retryable.
    if failure.retryable is False and not timed_out:
        return False
    if failure.kind in policy.get("non_retryable_error_types", []):
        return False
    max_attempts = int(policy.get("maximum_attempts", 0))
    return not (max_attempts and info.attempt >= max_attempts)


def _cancel_requested(live: _Live) -> bool:
    return any(isinstance(job, m.CancelRequested) for act in live.history.activations for job in act.jobs)


_CLOSED_KINDS = {"completed": lc.RUN_COMPLETED, "failed": lc.RUN_FAILED, "terminated": lc.RUN_TERMINATED,
                 "canceled": lc.RUN_CANCELED, "continued": lc.RUN_CONTINUED, "timed_out": lc.RUN_FAILED}  # fmt: skip


def _closed_event(row: dict[str, Any], status: str, failure: Failure | None, now: int) -> LifecycleEvent:
    start = int(row.get("start_ns") or now)
    data: dict[str, Any] = {"status": status, "duration": humanize_ns(max(now - start, 0)),
                            "duration_ns": max(now - start, 0)}  # fmt: skip
    if failure is not None:
        data["kind"] = failure.kind
    return LifecycleEvent(_CLOSED_KINDS.get(status, lc.RUN_FAILED), subject=str(row.get("workflow_id", "")),
                          run_id=str(row.get("run_id", "")), entry=str(row.get("workflow_type", "")),
                          message=failure.message if failure else "", data=data)  # fmt: skip


@dataclass(frozen=True)
class _Made:
    """What a closing run may have left rows for: open children, timers."""

    children: bool = True
    timers: bool = True


_UNKNOWN = _Made()


def _made(live: _Live) -> _Made:
    """What the run's history says it made: every child is a StartChild in it and every timer
    row a StartTimer, or an engine deadline its options ask for. (A timer row left behind
    would do no harm: it fires for a closed run, which drops it.)"""
    children = timers = False
    for act in live.history.activations:
        for cmd in act.commands:
            if isinstance(cmd, m.StartChild):
                children = True
            elif isinstance(cmd, m.StartTimer):
                timers = True
    options = live.row_options()
    timers = timers or bool(options.get("run_timeout_ns")) or options.get("execution_deadline_ns") is not None
    return _Made(children, timers)


def _fresh_ids(now: int) -> dict[str, Any]:
    """What the next run of a chain gets anew (made only when there is one: most runs end it)."""
    return {"run_id": new_run_id(), "seed": seed(), "start_time_ns": now}
