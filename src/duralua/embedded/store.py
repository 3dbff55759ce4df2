"""SQLite persistence of the embedded engine.

One database file holds every run, its history (one row per activation), the jobs waiting
for the next activation (``inputs``), durable timers, activity tasks and requests left by
other processes (the CLI) for the process that owns the engine. WAL mode with
``synchronous=FULL`` by default: a committed activation survives power loss.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..codec import decode, dumps
from ..errors import EngineError

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
    activations   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS runs_wid ON runs(workflow_id, start_ns);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status);
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
CREATE INDEX IF NOT EXISTS timers_fire ON timers(fire_ns);
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
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS requests (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    kind    TEXT NOT NULL,
    body    TEXT NOT NULL,
    created_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


class ProcessLock:
    """An exclusive lock file next to the database: one engine process per database."""

    def __init__(self, db_path: Path) -> None:
        self.path = Path(str(db_path) + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise EngineError(
                f"the database {self.path.with_suffix('')} is driven by {holder}",
                hint="stop that `duralua run` first, or use `duralua workflow ...` commands, which talk to it",
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}".encode())
        self._fd = fd

    def held_elsewhere(self) -> bool:
        if not self.path.exists():
            return False
        fd = os.open(self.path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class Store:
    """Thin typed access to the database. All writes of one activation batch share one transaction."""

    def __init__(self, path: str | Path, *, synchronous: str = "FULL", readonly: bool = False) -> None:
        self.path = Path(path)
        if not readonly:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=10.0)
        except sqlite3.Error as exc:
            raise EngineError(f"cannot open database {self.path}: {exc}") from None
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(f"PRAGMA synchronous={synchronous}")
        self.db.execute("PRAGMA busy_timeout=10000")
        if not readonly:
            self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

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

    def history(self, run_id: str) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT record FROM history WHERE run_id = ? ORDER BY idx", (run_id,)).fetchall()
        return [decode(r[0]) for r in rows]

    def inputs(self, run_id: str) -> list[tuple[int, dict[str, Any]]]:
        rows = self.db.execute("SELECT id, job FROM inputs WHERE run_id = ? ORDER BY id", (run_id,)).fetchall()
        return [(int(r[0]), decode(r[1])) for r in rows]

    def runs(self, where: str = "", params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        cur = self.db.execute(f"SELECT * FROM runs {where} ORDER BY start_ns, rowid", params)
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]

    def runs_with_inputs(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT run_id FROM inputs").fetchall()]

    def timers(self) -> list[tuple[str, int, int]]:
        return [(r[0], int(r[1]), int(r[2])) for r in self.db.execute("SELECT run_id, seq, fire_ns FROM timers")]

    def tasks(self) -> list[dict[str, Any]]:
        cur = self.db.execute("SELECT * FROM tasks")
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]

    def take_requests(self) -> list[tuple[int, str, dict[str, Any]]]:
        rows = self.db.execute("SELECT id, kind, body FROM requests ORDER BY id").fetchall()
        return [(int(r[0]), str(r[1]), decode(r[2])) for r in rows]

    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    # -- writes (inside a transaction) --------------------------------------------------------

    @staticmethod
    def add_request(db: sqlite3.Connection, kind: str, body: dict[str, Any], now_ns: int) -> None:
        db.execute("INSERT INTO requests(kind, body, created_ns) VALUES (?, ?, ?)", (kind, dumps(body), now_ns))


def _row(cur: sqlite3.Cursor) -> dict[str, Any] | None:
    row = cur.fetchone()
    if row is None:
        return None
    cols = [c[0] for c in cur.description]
    return dict(zip(cols, row, strict=True))
