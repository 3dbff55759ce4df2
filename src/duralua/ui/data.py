"""What the UI shows, read from the database through a read-only connection of its own.

The engine writes in WAL mode, so these reads never block it (and it never blocks them);
every query is bounded (a page of runs, one run's history), so a database with millions of
runs answers as fast as one with ten.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..codec import decode
from ..embedded.queries import CLOSED, load_history, pending_of
from ..embedded.store import Store
from ..errors import EngineError, Failure
from .timeline import Timeline, build_timeline

STATUSES = ("running", "held", "completed", "failed", "terminated", "canceled", "continued", "timed_out")
PAGE_SIZE = 50
_RUN_COLUMNS = "run_id, workflow_id, workflow_type, status, start_ns, close_ns, reason, task_queue"


def parse_time(text: str) -> int | None:
    """``2026-05-01``, ``2026-05-01T10:30`` (UTC, as the page shows times) → Unix ns; None if empty."""
    text = text.strip()
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not a date or time: {text!r} (use YYYY-MM-DD or YYYY-MM-DDTHH:MM, UTC)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    # SQLite integers are 64-bit: times past 2262 (or before 1677) are clamped, not an error page.
    return max(min(int(when.timestamp() * 1e9), (1 << 63) - 1), -(1 << 63))


def parse_search(items: list[str]) -> list[tuple[str, Any]]:
    """``Name=Value`` filters; the value is JSON when it parses (``total=30``), else the text."""
    out = []
    for item in items:
        item = item.strip()
        if not item:
            continue
        name, sep, raw = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"search filter {item!r} must be NAME=VALUE")
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        if isinstance(value, (dict, list)):
            raise ValueError(f"search filter {name}: compare with a number, text or true/false")
        out.append((name.strip(), value))
    return out


@dataclass
class RunFilter:
    status: str = ""
    workflow_type: str = ""
    text: str = ""  # part of the workflow id, or a run id
    search: list[tuple[str, Any]] = field(default_factory=list)
    since_ns: int | None = None
    until_ns: int | None = None
    page: int = 1

    def sql(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if self.status:
            clauses.append("status = ?")
            params.append(self.status)
        if self.workflow_type:
            clauses.append("workflow_type = ?")
            params.append(self.workflow_type)
        if self.text:
            clauses.append("(instr(workflow_id, ?) > 0 OR run_id = ?)")
            params += [self.text, self.text]
        for name, value in self.search:
            # The quoted JSON path keeps any attribute name literal (dots, spaces).
            path = '$."' + name.replace('"', "") + '"'
            if isinstance(value, bool):
                clauses.append("json_type(search, ?) = ?")
                params += [path, "true" if value else "false"]
            elif value is None:
                clauses.append("json_type(search, ?) = 'null'")
                params.append(path)
            else:
                clauses.append("json_extract(search, ?) = ?")
                params += [path, value]
        if self.since_ns is not None:
            clauses.append("start_ns >= ?")
            params.append(self.since_ns)
        if self.until_ns is not None:
            clauses.append("start_ns <= ?")
            params.append(self.until_ns)
        return ("WHERE " + " AND ".join(clauses)) if clauses else "", params


@dataclass
class RunRow:
    run_id: str
    workflow_id: str
    workflow_type: str
    status: str
    start_ns: int
    close_ns: int | None
    reason: str
    task_queue: str

    def duration_ns(self, now_ns: int) -> int:
        return max((self.close_ns if self.close_ns is not None else now_ns) - self.start_ns, 0)


@dataclass
class RunPage:
    rows: list[RunRow]
    total: int
    page: int
    pages: int
    counts: dict[str, int]
    types: list[str]


@dataclass
class RunDetail:
    row: dict[str, Any]
    info: dict[str, Any]
    options: dict[str, Any]
    args: Any
    result: Any
    failure: Failure | None
    search: dict[str, Any]
    memo: dict[str, Any]
    pending: dict[str, Any]
    timeline: Timeline
    chain: list[dict[str, Any]]  # every run of this workflow id (retries, continue-as-new)
    parent: dict[str, Any] | None
    history_error: str = ""

    @property
    def is_open(self) -> bool:
        return str(self.row["status"]) not in CLOSED


class ReadModel:
    """Read-only queries over one database, safe to use from several threads."""

    def __init__(self, db_path: str | Path) -> None:
        self.db_path = Path(db_path)
        self._store: Store | None = None
        self._lock = threading.Lock()

    def _open(self) -> Store:
        if self._store is None:
            self._store = Store(self.db_path, readonly=True)
        return self._store

    def available(self) -> bool:
        return self.db_path.exists()

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    def _query(self, sql: str, params: list[Any] | tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._open().db.execute(sql, params).fetchall()
            except sqlite3.DatabaseError:
                # The file was replaced or damaged under us: reopen once on the next query.
                if self._store is not None:
                    self._store.close()
                    self._store = None
                raise

    def runs(self, flt: RunFilter, page_size: int = PAGE_SIZE) -> RunPage:
        if not self.available():
            return RunPage([], 0, 1, 1, {}, [])
        where, params = flt.sql()
        total = int(self._query(f"SELECT count(*) FROM runs {where}", params)[0][0])
        pages = max((total + page_size - 1) // page_size, 1)
        page = min(max(flt.page, 1), pages)
        rows = self._query(
            f"SELECT {_RUN_COLUMNS} FROM runs {where} ORDER BY start_ns DESC, rowid DESC LIMIT ? OFFSET ?",
            [*params, page_size, (page - 1) * page_size],
        )
        counts = {str(s): int(n) for s, n in self._query("SELECT status, count(*) FROM runs GROUP BY status")}
        types = [str(r[0]) for r in self._query("SELECT DISTINCT workflow_type FROM runs ORDER BY 1")]
        out = [RunRow(str(r[0]), str(r[1]), str(r[2]), str(r[3]), int(r[4]), None if r[5] is None else int(r[5]),
                      str(r[6] or ""), str(r[7])) for r in rows]  # fmt: skip
        return RunPage(out, total, page, pages, counts, types)

    def latest_run_id(self, workflow_id: str) -> str | None:
        rows = self._query("SELECT run_id FROM runs WHERE workflow_id = ? ORDER BY start_ns DESC, rowid DESC LIMIT 1",
                           (workflow_id,))  # fmt: skip
        return str(rows[0][0]) if rows else None

    def run(self, run_id: str) -> RunDetail | None:
        if not self.available():
            return None
        with self._lock:
            store = self._open()
            row = store.run_row(run_id)
            if row is None:
                return None
            info = decode(row["info"])
            failure = Failure.from_json(decode(row["failure"])) if row["failure"] else None
            result = decode(row["result"]) if row["result"] else None
            pending = pending_of(store, run_id)
            history_error = ""
            try:
                history = load_history(store, row)
                timeline = build_timeline(history, pending)
            except (EngineError, ValueError, KeyError, TypeError) as exc:
                # A history this version cannot decode is reported, not a broken page.
                timeline = Timeline([], [])
                history_error = f"{type(exc).__name__}: {exc}"
            chain = [{"run_id": r[0], "status": r[1], "start_ns": int(r[2])} for r in store.db.execute(
                "SELECT run_id, status, start_ns FROM runs WHERE workflow_id = ? ORDER BY start_ns, rowid",
                (row["workflow_id"],))]  # fmt: skip
            parent = None
            if row["parent_run"]:
                prow = store.run_row(str(row["parent_run"]))
                if prow is not None:
                    parent = {"run_id": prow["run_id"], "workflow_id": prow["workflow_id"],
                              "workflow_type": prow["workflow_type"], "status": prow["status"]}  # fmt: skip
        return RunDetail(
            row=row, info=info if isinstance(info, dict) else {}, options=_obj(decode(row["options"])),
            args=(info or {}).get("args", []) if isinstance(info, dict) else [], result=result, failure=failure,
            search=_obj(decode(row["search"])), memo=_obj(decode(row["memo"])), pending=pending, timeline=timeline,
            chain=chain, parent=parent, history_error=history_error,
        )  # fmt: skip

    def fingerprint(self) -> int:
        """Changes whenever another connection commits (SQLite's data_version): cheap change polling."""
        if not self.available():
            return 0
        return int(self._query("PRAGMA data_version")[0][0])


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def now_ns() -> int:
    return time.time_ns()
