"""Read-only helpers over a database, shared by the engine and the CLI."""

from __future__ import annotations

import uuid
from typing import Any

from ..codec import JSONValue, decode
from ..core import model as m
from ..core.history import ActivationRecord, History
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


def task_from_row(row: dict[str, Any]) -> ActivityTask:
    return ActivityTask(
        row["run_id"], int(row["seq"]), row["activity_type"], row["task_queue"], decode(row["args"]),
        decode(row["options"]), decode(row["context"]), int(row["attempt"]), int(row["ready_ns"]),
        int(row["scheduled_ns"]),
    )  # fmt: skip


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
    return History(info, [ActivationRecord.from_json(r) for r in store.history(row["run_id"])])
