"""SQLite persistence of the embedded engine.

One database file holds every run, its history (one row per activation), the jobs waiting
for the next activation (``inputs``), durable timers, activity tasks and requests left by
other processes (the CLI) for the process that owns the engine. WAL mode with
``synchronous=FULL`` by default: a committed activation survives power loss.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..codec import decode, dumps
from ..errors import EngineError
from .owner import OwnerLock, ProcessLock

__all__ = ["OwnerLock", "ProcessLock", "Store"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id        TEXT PRIMARY KEY,
    workflow_id   TEXT NOT NULL,
    workflow_type TEXT NOT NULL,
    worker_id     TEXT NOT NULL,
    task_queue    TEXT NOT NULL,
    status        TEXT NOT NULL,
    info          TEXT NOT NULL,
    options       TEXT NOT NULL DEFAULT '{}',
    result        TEXT,
    failure       TEXT,
    reason        TEXT NOT NULL DEFAULT '',
    search        TEXT NOT NULL DEFAULT '{}',
    memo          TEXT NOT NULL DEFAULT '{}',
    start_ns      INTEGER NOT NULL,
    close_ns      INTEGER,
    parent_run    TEXT,
    parent_seq    INTEGER,
    activations   INTEGER NOT NULL DEFAULT 0,
    queries       TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS runs_wid ON runs(workflow_id, start_ns);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status);
-- A closing run looks up its open children: without this, every close scanned all runs.
CREATE INDEX IF NOT EXISTS runs_parent ON runs(parent_run) WHERE parent_run IS NOT NULL;
CREATE TABLE IF NOT EXISTS history (
    run_id  TEXT NOT NULL,
    idx     INTEGER NOT NULL,
    record  TEXT NOT NULL,
    PRIMARY KEY (run_id, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS inputs (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id  TEXT NOT NULL,
    job     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS inputs_run ON inputs(run_id, id);
CREATE TABLE IF NOT EXISTS timers (
    run_id  TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    fire_ns INTEGER NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
-- No index on fire_ns: the engine loads every timer into a heap at start and reads them by
-- run after; an index nothing read cost a B-tree update per timer set and per timer fired.
CREATE TABLE IF NOT EXISTS tasks (
    run_id        TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    activity_type TEXT NOT NULL,
    task_queue    TEXT NOT NULL,
    args          TEXT NOT NULL,
    options       TEXT NOT NULL,
    context       TEXT NOT NULL,
    attempt       INTEGER NOT NULL DEFAULT 1,
    ready_ns      INTEGER NOT NULL,
    scheduled_ns  INTEGER NOT NULL,
    last_failure  TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS requests (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    kind    TEXT NOT NULL,
    body    TEXT NOT NULL,
    created_ns INTEGER NOT NULL,
    state   TEXT NOT NULL DEFAULT 'queued',
    outcome TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS updates (
    update_id   TEXT PRIMARY KEY,
    run_id      TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    name        TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'admitted',
    outcome     TEXT NOT NULL DEFAULT '{}',
    created_ns  INTEGER NOT NULL,
    closed_ns   INTEGER
);
CREATE INDEX IF NOT EXISTS updates_run ON updates(run_id, state);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


SYNCHRONOUS_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")
SCHEMA_VERSION = 6
# Applied requests are kept this long so the process that queued one can read its outcome.
REQUEST_RETENTION_NS = 3600 * 1_000_000_000


def _explain(path: Path, exc: sqlite3.Error) -> EngineError:
    """A one-line error for a database that cannot be used, with what to do about it."""
    text = str(exc)
    low = text.lower()
    if "not a database" in low or "malformed" in low:
        return EngineError(f"{path} is not a duralua database or is damaged ({text})",
                           hint="check --db; restore it from a backup if it was truncated")  # fmt: skip
    if "readonly" in low or "read-only" in low:
        return EngineError(f"the database {path} is read-only ({text})",
                           hint="give this user write access; list and describe still work")  # fmt: skip
    if "locked" in low or "busy" in low:
        return EngineError(f"the database {path} is locked by another process ({text})",
                           hint="another program holds a write lock on it; retry, or stop that program")  # fmt: skip
    if "full" in low:
        return EngineError(f"the database {path} is full ({text})", hint="free disk space and retry")
    if "unable to open" in low:
        return EngineError(f"cannot open the database {path} ({text})",
                           hint="check that the directory exists and is writable")  # fmt: skip
    return EngineError(f"database {path}: {text}")


class Store:
    """Thin typed access to the database. All writes of one activation batch share one transaction.

    ``readonly`` opens with SQLite's ``mode=ro``: inspection works on a read-only file or
    directory, and nothing (not even the schema) is written.
    """

    def __init__(self, path: str | Path, *, synchronous: str = "FULL", readonly: bool = False) -> None:
        self.path = Path(path)
        mode = synchronous.upper() if isinstance(synchronous, str) else ""
        if mode not in SYNCHRONOUS_MODES:
            raise EngineError(f"synchronous must be one of {', '.join(SYNCHRONOUS_MODES)}, not {synchronous!r}")
        self.readonly = readonly
        try:
            if readonly:
                if not self.path.exists():
                    raise EngineError(f"no database at {self.path}", hint="check --db, or start a workflow first")
                uri = self.path.resolve().as_uri() + "?mode=ro"
                self.db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False, timeout=10.0)
                self.db.execute("PRAGMA busy_timeout=10000")
                self.db.execute("SELECT count(*) FROM sqlite_master").fetchone()
                self._check_schema()
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=10.0)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute(f"PRAGMA synchronous={mode}")
            self.db.execute("PRAGMA busy_timeout=10000")
            self.db.executescript(SCHEMA)
            self._migrate()
        except sqlite3.Error as exc:
            raise _explain(self.path, exc) from None
        except OSError as exc:
            raise EngineError(f"cannot open database {self.path}: {exc.strerror}") from None

    def _check_schema(self) -> None:
        names = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "runs" not in names:
            raise EngineError(f"{self.path} is not a duralua database (no runs table)", hint="check --db")

    def _migrate(self) -> None:
        """Bring a database written by an older duralua up to this schema, in place."""
        cols = {r[1] for r in self.db.execute("PRAGMA table_info(requests)")}
        task_cols = {r[1] for r in self.db.execute("PRAGMA table_info(tasks)")}
        run_cols = {r[1] for r in self.db.execute("PRAGMA table_info(runs)")}
        with self.transaction() as db:
            if "queries" not in run_cols:
                db.execute("ALTER TABLE runs ADD COLUMN queries TEXT NOT NULL DEFAULT '{}'")
            if "last_failure" not in task_cols:
                db.execute("ALTER TABLE tasks ADD COLUMN last_failure TEXT NOT NULL DEFAULT ''")
            if "state" not in cols:
                db.execute("ALTER TABLE requests ADD COLUMN state TEXT NOT NULL DEFAULT 'queued'")
            if "outcome" not in cols:
                db.execute("ALTER TABLE requests ADD COLUMN outcome TEXT NOT NULL DEFAULT '{}'")
            db.execute("CREATE INDEX IF NOT EXISTS requests_state ON requests(state, id)")
            db.execute("DROP INDEX IF EXISTS timers_fire")  # schema 5 and before had it
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise
        try:
            self.db.execute("COMMIT")
        except BaseException:
            # A failed COMMIT (disk full) can leave the transaction open: end it, so the next
            # BEGIN does not fail with "cannot start a transaction within a transaction".
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise

    # -- reads ---------------------------------------------------------------------------------

    def run_row(self, run_id: str) -> dict[str, Any] | None:
        cur = self.db.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,))
        return _row(cur)

    def latest_run(self, workflow_id: str) -> dict[str, Any] | None:
        cur = self.db.execute(
            "SELECT * FROM runs WHERE workflow_id = ? ORDER BY start_ns DESC, rowid DESC LIMIT 1",
            (workflow_id,),
        )
        return _row(cur)

    def history_records(self, run_id: str) -> list[str]:
        """The run's activation records as stored (canonical JSON), in order."""
        return [r[0] for r in self.db.execute("SELECT record FROM history WHERE run_id = ? ORDER BY idx", (run_id,))]

    def history(self, run_id: str) -> list[dict[str, Any]]:
        return [decode(r) for r in self.history_records(run_id)]

    def inputs(self, run_id: str) -> list[tuple[int, dict[str, Any]]]:
        rows = self.db.execute("SELECT id, job FROM inputs WHERE run_id = ? ORDER BY id", (run_id,)).fetchall()
        return [(int(r[0]), decode(r[1])) for r in rows]

    def runs(self, where: str = "", params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        cur = self.db.execute(f"SELECT * FROM runs {where} ORDER BY start_ns, rowid", params)
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]

    def open_children(self, run_id: str) -> list[str]:
        """Run ids of the children of ``run_id`` still running or held (uses runs_parent)."""
        rows = self.db.execute("SELECT run_id FROM runs WHERE parent_run = ? AND status IN ('running', 'held')",
                               (run_id,)).fetchall()  # fmt: skip
        return [str(r[0]) for r in rows]

    def runs_with_inputs(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT run_id FROM inputs").fetchall()]

    def timers(self) -> list[tuple[str, int, int]]:
        return [(r[0], int(r[1]), int(r[2])) for r in self.db.execute("SELECT run_id, seq, fire_ns FROM timers")]

    def tasks(self) -> list[dict[str, Any]]:
        cur = self.db.execute("SELECT * FROM tasks")
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]

    def take_requests(self, after_id: int = 0) -> list[tuple[int, str, dict[str, Any]]]:
        """Queued requests with an id above ``after_id`` (those below are being applied)."""
        rows = self.db.execute(
            "SELECT id, kind, body FROM requests WHERE state = 'queued' AND id > ? ORDER BY id", (after_id,)
        ).fetchall()
        return [(int(r[0]), str(r[1]), decode(r[2])) for r in rows]

    def request_outcome(self, request_id: int) -> tuple[str, dict[str, Any]] | None:
        """``("queued", {})``, ``("done", {...})`` or ``("failed", {"error", "kind"})``; None if unknown."""
        row = self.db.execute("SELECT state, outcome FROM requests WHERE id = ?", (request_id,)).fetchone()
        if row is None:
            return None
        outcome = decode(row[1]) if row[1] else {}
        return str(row[0]), outcome if isinstance(outcome, dict) else {}

    def update_row(self, update_id: str) -> dict[str, Any] | None:
        cur = self.db.execute("SELECT * FROM updates WHERE update_id = ?", (update_id,))
        return _row(cur)

    def owner(self) -> dict[str, Any] | None:
        value = self.meta("owner")
        if not value:
            return None
        data = decode(value)
        return data if isinstance(data, dict) else None

    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    # -- writes (inside a transaction) --------------------------------------------------------

    @staticmethod
    def add_request(db: sqlite3.Connection, kind: str, body: dict[str, Any], now_ns: int) -> int:
        cur = db.execute("INSERT INTO requests(kind, body, created_ns) VALUES (?, ?, ?)", (kind, dumps(body), now_ns))
        return int(cur.lastrowid or 0)

    @staticmethod
    def finish_request(db: sqlite3.Connection, request_id: int, error: str | None, kind: str = "",
                       outcome: dict[str, Any] | None = None) -> None:  # fmt: skip
        state = "failed" if error is not None else "done"
        body = {"error": error, "kind": kind} if error is not None else (outcome or {})
        db.execute("UPDATE requests SET state = ?, outcome = ? WHERE id = ?", (state, dumps(body), request_id))

    @staticmethod
    def purge_requests(db: sqlite3.Connection, older_than_ns: int) -> None:
        db.execute("DELETE FROM requests WHERE state != 'queued' AND created_ns < ?", (older_than_ns,))

    @staticmethod
    def set_owner(db: sqlite3.Connection, owner: dict[str, Any]) -> None:
        db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('owner', ?)", (dumps(owner),))


def _row(cur: sqlite3.Cursor) -> dict[str, Any] | None:
    row = cur.fetchone()
    if row is None:
        return None
    cols = [c[0] for c in cur.description]
    return dict(zip(cols, row, strict=True))
