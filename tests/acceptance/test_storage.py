"""The database's life cycle (issue 11, items 7 and 9): retention and pruning, a database made
by an older duralua served by this one, online backups, another program holding the lock."""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import subprocess
import threading
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from duralua import App
from duralua.embedded.retention import DAY_NS, RetentionPolicy, parse_retention
from duralua.embedded.store import SCHEMA_VERSION
from duralua.errors import ConfigError
from duralua.testing import WorkflowEnvironment

from .cli_support import assert_no_traceback, duralua_cli, error_lines, json_out, serve

APPS = Path(__file__).parent / "apps"
OPERATOR = APPS / "operator"

# Two workers: `short` keeps closed runs for an hour, `keep` uses the app's retention.
RETENTION_APP = {
    "wippy.lock": "directories:\n  src: ./src\n",
    "src/_index.yaml": """\
version: "1.0"
namespace: r
entries:
  - {name: client, kind: temporal.client, address: "127.0.0.1:7233"}
  - {name: keep, kind: temporal.worker, client: client, task_queue: keep}
  - {name: short, kind: temporal.worker, client: client, task_queue: short, meta: {retention: 1h}}
  - {name: quick, kind: workflow.lua, source: file://flows.lua, method: quick,
     meta: {temporal: {workflow: {worker: keep}}}}
  - {name: quick_short, kind: workflow.lua, source: file://flows.lua, method: quick,
     meta: {temporal: {workflow: {worker: short}}}}
  - {name: waiter, kind: workflow.lua, source: file://flows.lua, method: waiter,
     meta: {temporal: {workflow: {worker: short}}}}
""",
    "src/flows.lua": """\
local function quick(x) return {echo = x} end
local function waiter()
  local msg = process.inbox():receive()
  return msg:payload():data()
end
return {quick = quick, waiter = waiter}
""",
}


def write_app(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def run_ids(db: Path) -> dict[str, str]:
    with closing(sqlite3.connect(db)) as conn:
        return {str(r[0]): str(r[1]) for r in conn.execute("SELECT workflow_id, status FROM runs")}


def history_rows(db: Path) -> int:
    with closing(sqlite3.connect(db)) as conn:
        return int(conn.execute("SELECT count(*) FROM history").fetchone()[0])


def test_retention_values() -> None:
    assert parse_retention("7d") == 7 * DAY_NS
    assert parse_retention("90m") == 90 * 60 * 1_000_000_000
    assert parse_retention("forever") is None
    assert parse_retention(0) is None
    with pytest.raises(ConfigError, match=r"e\.g\. 7d"):
        parse_retention("soon")
    assert RetentionPolicy().default_ns == 7 * DAY_NS  # the documented default


def test_the_engine_prunes_closed_runs_after_their_retention_on_the_virtual_clock(tmp_path: Path) -> None:
    app = App(write_app(tmp_path / "app", RETENTION_APP), log=None)

    async def wait_for(db: Path, predicate: Any) -> dict[str, str]:
        deadline = time.monotonic() + 10
        while not predicate(ids := run_ids(db)):
            assert time.monotonic() < deadline, ids
            await asyncio.sleep(0.05)
        return ids

    async def body() -> None:
        async with WorkflowEnvironment(app) as env:
            await env.execute("r:quick", None, 1, workflow_id="kept-a-week")
            await env.execute("r:quick_short", None, 2, workflow_id="kept-an-hour")
            await env.start("r:waiter", None, workflow_id="open")
            await env.idle()
            before = history_rows(env.db)
            await env.sleep(2 * 3600)  # past `short`'s hour, well inside the app's 7 days
            ids = await wait_for(env.db, lambda ids: "kept-an-hour" not in ids)
            assert ids == {"kept-a-week": "completed", "open": "running"}
            assert history_rows(env.db) < before  # the history went with it
            await env.sleep(8 * 24 * 3600)  # past the default 7 days too
            ids = await wait_for(env.db, lambda ids: "kept-a-week" not in ids)
            assert ids == {"open": "running"}  # an open run is never pruned, whatever its age
            await env.signal("open", "go", {"still": "here"})
            assert await env.result("open") == {"still": "here"}

    asyncio.run(asyncio.wait_for(body(), 60))


def test_retention_forever_keeps_closed_runs(tmp_path: Path) -> None:
    app = App(write_app(tmp_path / "app", RETENTION_APP), log=None, retention="forever")
    assert app.retention.default_ns is None

    async def body() -> None:
        async with WorkflowEnvironment(app) as env:
            await env.execute("r:quick", None, 1, workflow_id="old")
            await env.sleep(400 * 24 * 3600)
            await asyncio.sleep(0.5)  # a few passes of the engine's request loop
            assert "old" in run_ids(env.db)

    asyncio.run(asyncio.wait_for(body(), 60))


def test_workflow_prune_command(tmp_path: Path) -> None:
    app_dir = write_app(tmp_path / "app", RETENTION_APP)
    db = tmp_path / "r.db"
    for args in (["r:quick", "1", "--id", "done"], ["r:waiter", "--id", "open"]):
        proc = duralua_cli("workflow", "start", *args, "--dir", app_dir, "--db", db)
        assert proc.returncode == 0, proc.stderr
    assert run_ids(db) == {"done": "completed", "open": "running"}
    # The app's retention (7 days) keeps a run that just closed.
    kept = duralua_cli("workflow", "prune", "--dir", app_dir, "--db", db, "--json")
    assert kept.returncode == 0, kept.stderr
    assert json_out(kept) == {"pruned": 0, "workflow_ids": [], "dry_run": False}
    time.sleep(0.05)
    dry = duralua_cli("workflow", "prune", "--older-than", "1ms", "--dry-run", "--dir", app_dir, "--db", db)
    assert dry.returncode == 0 and dry.stdout.strip() == "would prune 1 closed run(s): done", dry.stdout
    assert set(run_ids(db)) == {"done", "open"}
    done = duralua_cli("workflow", "prune", "--older-than", "1ms", "--dir", app_dir, "--db", db)
    assert done.returncode == 0 and done.stdout.strip() == "pruned 1 closed run(s): done", done.stdout
    assert run_ids(db) == {"open": "running"}
    gone = duralua_cli("workflow", "describe", "done", "--dir", app_dir, "--db", db)
    assert gone.returncode == 1 and "no workflow with id done" in gone.stderr
    bad = duralua_cli("workflow", "prune", "--older-than", "soon", "--dir", app_dir, "--db", db)
    assert bad.returncode == 1 and error_lines(bad)[0].startswith("error: --older-than"), bad.stderr


def test_worker_retention_is_checked_at_load(tmp_path: Path) -> None:
    files = dict(RETENTION_APP)
    files["src/_index.yaml"] = files["src/_index.yaml"].replace("retention: 1h", "retention: soon")
    app_dir = write_app(tmp_path / "app", files)
    proc = duralua_cli("workflow", "prune", "--dir", app_dir, "--db", tmp_path / "none.db")
    assert proc.returncode == 1
    proc = duralua_cli("run", app_dir, "--db", tmp_path / "x.db", "--call", "r:none")
    assert proc.returncode == 1 and "meta.retention" in proc.stderr and "src/_index.yaml" in proc.stderr, proc.stderr
    assert_no_traceback(proc)


def test_backup_while_the_engine_serves(tmp_path: Path) -> None:
    op = Path(shutil.copytree(OPERATOR, tmp_path / "op"))
    db = tmp_path / "op.db"
    copy = tmp_path / "backups" / "op-copy.db"
    copy.parent.mkdir()
    with serve(op, db):
        for i in range(5):
            proc = duralua_cli("workflow", "start", "op:quick", str(i), "--id", f"q{i}", "--dir", op, "--db", db)
            assert proc.returncode == 0, proc.stderr
        waiting = duralua_cli("workflow", "start", "op:waiter", "--id", "w", "--dir", op, "--db", db)
        assert waiting.returncode == 0, waiting.stderr
        proc = duralua_cli("db", "backup", copy, "--dir", op, "--db", db, "--json")
        assert proc.returncode == 0, proc.stderr
        report = json_out(proc)
        assert report["runs"] == 6 and report["bytes"] == copy.stat().st_size
        again = duralua_cli("db", "backup", copy, "--dir", op, "--db", db)
        assert again.returncode == 1 and "already exists" in again.stderr
    # The copy is a complete database of its own: it lists, and it serves (the waiter continues).
    listed = duralua_cli("workflow", "list", "--dir", op, "--db", copy, "--json")
    assert {r["workflow_id"] for r in json_out(listed)} == {"q0", "q1", "q2", "q3", "q4", "w"}
    assert not Path(f"{copy}-wal").exists()
    with serve(op, copy):
        sent = duralua_cli("workflow", "signal", "w", "go", '"restored"', "--dir", op, "--db", copy)
        assert sent.returncode == 0, sent.stderr
        result = duralua_cli("workflow", "result", "w", "--wait", "--timeout", "30", "--dir", op, "--db", copy)
        assert json.loads(result.stdout) == {"topic": "go", "payload": "restored"}


# The schema of the first released database format (git show da1e7e0:src/duralua/embedded/store.py):
# no queries column, no last_failure on tasks, no state/outcome on requests, no updates table,
# no schema version.
PREVIOUS_SCHEMA = """
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY, workflow_id TEXT NOT NULL, workflow_type TEXT NOT NULL,
    worker_id TEXT NOT NULL, task_queue TEXT NOT NULL, status TEXT NOT NULL, info TEXT NOT NULL,
    options TEXT NOT NULL DEFAULT '{}', result TEXT, failure TEXT, reason TEXT NOT NULL DEFAULT '',
    search TEXT NOT NULL DEFAULT '{}', memo TEXT NOT NULL DEFAULT '{}', start_ns INTEGER NOT NULL,
    close_ns INTEGER, parent_run TEXT, parent_seq INTEGER, activations INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX runs_wid ON runs(workflow_id, start_ns);
CREATE INDEX runs_status ON runs(status);
CREATE TABLE history (run_id TEXT NOT NULL, idx INTEGER NOT NULL, record TEXT NOT NULL,
                      PRIMARY KEY (run_id, idx)) WITHOUT ROWID;
CREATE TABLE inputs (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, job TEXT NOT NULL);
CREATE INDEX inputs_run ON inputs(run_id, id);
CREATE TABLE timers (run_id TEXT NOT NULL, seq INTEGER NOT NULL, fire_ns INTEGER NOT NULL,
                     PRIMARY KEY (run_id, seq)) WITHOUT ROWID;
CREATE INDEX timers_fire ON timers(fire_ns);
CREATE TABLE tasks (
    run_id TEXT NOT NULL, seq INTEGER NOT NULL, activity_type TEXT NOT NULL, task_queue TEXT NOT NULL,
    args TEXT NOT NULL, options TEXT NOT NULL, context TEXT NOT NULL, attempt INTEGER NOT NULL DEFAULT 1,
    ready_ns INTEGER NOT NULL, scheduled_ns INTEGER NOT NULL, PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
CREATE TABLE requests (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, body TEXT NOT NULL,
                       created_ns INTEGER NOT NULL);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [str(r[1]) for r in conn.execute(f"PRAGMA table_info({table})")]


def downgrade(current: Path, old: Path) -> None:
    """A database in the previous format holding ``current``'s runs (the columns it had)."""
    with closing(sqlite3.connect(old)) as target, closing(sqlite3.connect(current)) as source:
        target.executescript(PREVIOUS_SCHEMA)
        for table in ("runs", "history", "inputs", "timers", "tasks"):
            cols = [c for c in _columns(target, table) if c in _columns(source, table)]
            rows = source.execute(f"SELECT {', '.join(cols)} FROM {table}").fetchall()
            marks = ", ".join("?" for _ in cols)
            target.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})", rows)
        target.commit()


def test_a_database_of_the_previous_schema_is_upgraded_and_served(tmp_path: Path) -> None:
    op = Path(shutil.copytree(OPERATOR, tmp_path / "op"))
    made_now, old = tmp_path / "now.db", tmp_path / "old.db"
    for args in (["op:quick", '"x"', "--id", "done"], ["op:waiter", "--id", "waiting"], ["op:retrying", "--id", "r"]):
        proc = duralua_cli("workflow", "start", *args, "--dir", op, "--db", made_now)
        assert proc.returncode == 0, proc.stderr
    downgrade(made_now, old)
    with closing(sqlite3.connect(old)) as conn:
        assert "queries" not in _columns(conn, "runs") and "updates" not in {
            r[0] for r in conn.execute("SELECT name FROM sqlite_master")
        }
    # Read-only commands work on it before any engine touched it...
    listed = duralua_cli("workflow", "list", "--dir", op, "--db", old, "--json")
    assert listed.returncode == 0, listed.stderr
    assert {r["workflow_id"]: r["status"] for r in json_out(listed)} == {
        "done": "completed", "waiting": "running", "r": "running"
    }  # fmt: skip
    # ...and `duralua run` upgrades it in place and serves its runs.
    with serve(op, old) as served:
        sent = duralua_cli("workflow", "signal", "waiting", "go", '{"n": 1}', "--dir", op, "--db", old)
        assert sent.returncode == 0, sent.stderr
        result = duralua_cli("workflow", "result", "waiting", "--wait", "--timeout", "30", "--dir", op, "--db", old)
        assert json.loads(result.stdout) == {"topic": "go", "payload": {"n": 1}}
        query = duralua_cli("workflow", "query", "waiting", "pid", "--dir", op, "--db", old)
        assert query.returncode == 0, query.stderr
        assert "Traceback" not in served.stderr
    with closing(sqlite3.connect(old)) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
        assert "queries" in _columns(conn, "runs") and "last_failure" in _columns(conn, "tasks")
        assert {"state", "outcome"} <= set(_columns(conn, "requests"))
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert "timers_fire" not in indexes and "requests_state" in indexes  # an index nothing read, dropped
    describe = duralua_cli("workflow", "describe", "done", "--dir", op, "--db", old, "--json")
    assert json_out(describe)["result"] == {"echo": "x"}


def test_another_program_holding_the_lock_is_one_line_after_the_busy_timeout(tmp_path: Path) -> None:
    op = Path(shutil.copytree(OPERATOR, tmp_path / "op"))
    # Two databases, so the two commands wait out their busy timeouts side by side.
    dbs = {"start": tmp_path / "a.db", "run": tmp_path / "b.db"}
    holders = []
    for db in dbs.values():
        proc = duralua_cli("workflow", "start", "op:quick", "1", "--id", "first", "--dir", op, "--db", db)
        assert proc.returncode == 0, proc.stderr
        holder = sqlite3.connect(db, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")  # what a backup tool or a DB browser may do
        holders.append(holder)
    results: dict[str, subprocess.CompletedProcess[str]] = {}

    def attempt(name: str, *args: str | Path) -> None:
        results[name] = duralua_cli(*args, timeout=60)

    started = time.monotonic()
    try:
        threads = [
            threading.Thread(target=attempt, args=("start", "workflow", "start", "op:quick", "2", "--dir", op,
                                                   "--db", dbs["start"])),
            threading.Thread(target=attempt, args=("run", "run", op, "--db", dbs["run"], "--call", "op:hello")),
        ]  # fmt: skip
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for holder in holders:
            holder.execute("ROLLBACK")
            holder.close()
    assert time.monotonic() - started < 40
    for name, proc in results.items():
        assert proc.returncode == 1, (name, proc.stdout, proc.stderr)
        assert_no_traceback(proc)
        lines = error_lines(proc)
        assert len(lines) == 1, (name, proc.stderr)
        assert lines[0].startswith("error: ") and "locked by another process" in lines[0], (name, lines)
        assert dbs[name].name in lines[0]
    # The lock is gone: the same command works.
    proc = duralua_cli("workflow", "start", "op:quick", "2", "--id", "second", "--dir", op, "--db", dbs["start"])
    assert proc.returncode == 0, proc.stderr


def test_a_program_locking_readers_out_is_one_line_for_read_commands(tmp_path: Path) -> None:
    """In WAL mode a write lock leaves readers alone; an exclusive locking mode does not."""
    op = Path(shutil.copytree(OPERATOR, tmp_path / "op"))
    db = tmp_path / "r.db"
    proc = duralua_cli("workflow", "start", "op:quick", "1", "--id", "first", "--dir", op, "--db", db)
    assert proc.returncode == 0, proc.stderr
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("UPDATE meta SET value = value WHERE key = 'schema_version'")
    holder.execute("COMMIT")  # the exclusive locking mode keeps the lock after the commit
    results: dict[str, subprocess.CompletedProcess[str]] = {}

    def attempt(*args: str) -> None:
        results[args[0]] = duralua_cli("workflow", *args, "--dir", op, "--db", db, timeout=60)

    try:
        threads = [threading.Thread(target=attempt, args=args) for args in (("list",), ("describe", "first"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        holder.close()
    for name, proc in results.items():
        assert proc.returncode == 1, (name, proc.stdout, proc.stderr)
        assert_no_traceback(proc)
        lines = error_lines(proc)
        assert len(lines) == 1 and "locked by another process" in lines[0] and db.name in lines[0], (name, lines)
    proc = duralua_cli("workflow", "list", "--dir", op, "--db", db)
    assert proc.returncode == 0 and "first" in proc.stdout, proc.stderr
