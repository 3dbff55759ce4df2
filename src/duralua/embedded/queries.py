"""Read-only helpers over a database, shared by the engine and the CLI."""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

from ..codec import JSONValue, decode
from ..core import model as m
from ..core.history import History
from ..core.pid import PID
from ..engine import RunSummary
from ..errors import (
    CANCELED,
    Failure,
)
from .activities import ActivityTask
from .store import Store

CLOSED = ("completed", "failed", "terminated", "canceled", "continued", "timed_out")


def seed() -> int:
    return uuid.uuid4().int & ((1 << 62) - 1)


def new_run_id() -> str:
    """A time-ordered UUID (version 7 layout: Unix milliseconds, then random bits).

    Run ids key the runs and history B-trees: random ids put every insert on a random page
    (a large database then reads and rewrites pages all over the file), ordered ones append.
    """
    rand = int.from_bytes(os.urandom(10), "big")
    value = (time.time_ns() // 1_000_000) << 80 | 0x7 << 76 | (rand >> 68) << 64 | 0b10 << 62 | (rand & ((1 << 62) - 1))
    return str(uuid.UUID(int=value))


def task_from_row(row: dict[str, Any]) -> ActivityTask:
    return ActivityTask(
        row["run_id"], int(row["seq"]), row["activity_type"], row["task_queue"], decode(row["args"]),
        decode(row["options"]), decode(row["context"]), int(row["attempt"]), int(row["ready_ns"]),
        int(row["scheduled_ns"]),
        last_failure=Failure.from_json(decode(row["last_failure"])) if row.get("last_failure") else None,
    )  # fmt: skip


def pending_of(store: Store, run_id: str) -> dict[str, Any]:
    """What a run waits for, from the database alone (describe, the UI): activity tasks with
    attempt, last failure and next retry; timers; open children; messages not yet consumed."""
    db = store.db
    activities = []
    for r in db.execute("SELECT seq, activity_type, task_queue, attempt, ready_ns, scheduled_ns, last_failure "
                        "FROM tasks WHERE run_id = ? ORDER BY seq", (run_id,)):  # fmt: skip
        failure = decode(r[6]) if r[6] else None
        activities.append({
            "seq": int(r[0]), "activity_type": r[1], "task_queue": r[2], "attempt": int(r[3]),
            "next_attempt_ns": int(r[4]), "scheduled_ns": int(r[5]), "last_failure": failure,
        })  # fmt: skip
    timer_rows = db.execute("SELECT seq, fire_ns FROM timers WHERE run_id = ? ORDER BY fire_ns", (run_id,))
    timers = [{"seq": int(r[0]), "fire_ns": int(r[1])} for r in timer_rows]
    children = [{"workflow_id": r[0], "run_id": r[1], "workflow_type": r[2], "status": r[3]}
                for r in db.execute("SELECT workflow_id, run_id, workflow_type, status FROM runs WHERE parent_run = ? "
                                    "ORDER BY start_ns", (run_id,))]  # fmt: skip
    inbox = []
    for r in db.execute("SELECT job FROM inputs WHERE run_id = ? ORDER BY id", (run_id,)):
        job = decode(r[0])
        if isinstance(job, dict) and job.get("type") == "Signal":
            inbox.append({"topic": job.get("topic", ""), "sender": job.get("sender", ""),
                          "payloads": job.get("payloads", [])})  # fmt: skip
    return {"activities": activities, "timers": timers, "children": children, "inbox": inbox}


def outcome(row: dict[str, Any]) -> tuple[JSONValue, Failure | None]:
    if row["failure"]:
        return None, Failure.from_json(decode(row["failure"]))
    if row["status"] == "terminated":
        return None, Failure("workflow terminated", CANCELED, False)
    return (decode(row["result"]) if row["result"] else None), None


def summary_of(row: dict[str, Any]) -> RunSummary:
    info = decode(row["info"])
    result, failure = outcome(row) if row["status"] in CLOSED else (None, None)
    return RunSummary(
        workflow_id=row["workflow_id"], run_id=row["run_id"], workflow_type=row["workflow_type"],
        status=row["status"], pid=str(PID(info.get("client_id", ""), info.get("worker_id", ""), row["workflow_id"])),
        task_queue=row["task_queue"], start_time_ns=int(row["start_ns"]),
        close_time_ns=int(row["close_ns"]) if row["close_ns"] is not None else None, reason=row["reason"] or "",
        search=decode(row["search"]), memo=decode(row["memo"]), result=result, failure=failure,
    )  # fmt: skip


def list_runs(
    store: Store,
    *,
    status: str | None = None,
    workflow_type: str | None = None,
    query: dict[str, Any] | None = None,
) -> list[RunSummary]:
    clauses, params = [], []
    if status:
        clauses.append("status = ?")
        params.append(status)
    if workflow_type:
        clauses.append("workflow_type = ?")
        params.append(workflow_type)
    where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    out = []
    for row in store.runs(where, tuple(params)):
        s = summary_of(row)
        if query and any(s.search.get(k) != v for k, v in query.items()):
            continue
        out.append(s)
    return out


def load_history(store: Store, row: dict[str, Any]) -> History:
    info = m.WorkflowInfo.from_json(decode(row["info"]))
    return History.from_encoded(info, store.history_records(row["run_id"]))
