"""Embedded-engine specifics of start options, updates and queries (issue 10 items 5-7) that the
conformance suite cannot show: durability across restarts, rollback of a failed commit, the CLI
without a serving engine, schema migration, held late tasks, notes on worker options."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from duralua import App, CallError
from duralua.core import model as m
from duralua.embedded.engine import EmbeddedEngine, load_history
from duralua.embedded.store import SCHEMA_VERSION, Store
from duralua.errors import UNAVAILABLE
from duralua.testing import WorkflowEnvironment

ENGINE_APP = Path(__file__).parent / "app"
CONF_APP = Path(__file__).parents[1] / "conformance" / "app"


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-c", "from duralua.cli.main import main; main()", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def test_update_outcome_survives_a_restart_and_is_not_applied_twice(tmp_path: Path) -> None:
    db = tmp_path / "x.db"

    async def first() -> tuple[Any, Any]:
        async with WorkflowEnvironment(App(CONF_APP, log=None), db=db) as env:
            pid = await env.start("conf:counter", "conf:worker", 1, workflow_id="c")
            value = await env._wf.update(pid, "increment", 2, update_id="u-1")
            return pid, value

    async def second(pid: str) -> tuple[Any, ...]:
        async with WorkflowEnvironment(App(CONF_APP, log=None), db=db, cache_size=0) as env:
            again = await env._wf.update(pid, "increment", 2, update_id="u-1")  # the same update
            fresh = await env._wf.update(pid, "get")
            ops = await env._wf.query(pid, "ops")
            history = load_history(env.engine._db(), env.engine._db().latest_run("c") or {})
            return again, fresh, ops, history

    pid, value = run(first())
    again, fresh, ops, history = run(second(pid))
    assert value == 3 and again == 3 and fresh == 3
    assert ops == 2  # increment once, get once: asking again for u-1 sent nothing
    jobs = [j for a in history.activations for j in a.jobs if isinstance(j, m.Signal)]
    assert (jobs[0].topic, jobs[0].sender) == ("increment", "{update|u-1}")
    replies = [c for a in history.activations for c in a.commands if isinstance(c, m.UpdateReply)]
    assert [(c.update_id, c.topic, c.value) for c in replies][:2] == [("u-1", "ack", None), ("u-1", "ok", 3)]


def test_a_failed_commit_takes_an_update_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The update's admission is rolled back with its batch: the caller is told, and asking
    again admits it (the in-memory set of admitted ids was taken back too)."""
    real = EmbeddedEngine._commit
    failed: list[int] = []

    def flaky(self: EmbeddedEngine, batch: Any) -> None:
        if not failed and any("INSERT INTO updates" in q for q, _p in batch.ops):
            failed.append(1)
            raise sqlite3.OperationalError("database or disk is full")
        real(self, batch)

    monkeypatch.setattr(EmbeddedEngine, "_commit", flaky)

    async def body() -> tuple[Any, Any, Any]:
        async with WorkflowEnvironment(App(CONF_APP, log=None), db=tmp_path / "x.db") as env:
            pid = await env.start("conf:counter", "conf:worker", 0, workflow_id="c")
            await env.idle()
            with pytest.raises(CallError) as refused:
                await env._wf.update(pid, "increment", 5, update_id="u")
            value = await env._wf.update(pid, "increment", 5, update_id="u")
            return refused.value.failure.kind, value, await env._wf.query(pid, "ops")

    kind, value, ops = run(body())
    assert kind == UNAVAILABLE and value == 5 and ops == 1


def test_cli_update_and_query_without_a_serving_engine(tmp_path: Path) -> None:
    db = tmp_path / "x.db"

    async def start() -> None:
        async with WorkflowEnvironment(App(CONF_APP, log=None), db=db) as env:
            await env.start("conf:counter", "conf:worker", 40, workflow_id="cli-counter")
            await env.idle()

    run(start())
    base = ["--dir", str(CONF_APP), "--db", str(db), "--json"]
    ok = cli("workflow", "update", "cli-counter", "increment", "2", *base)
    nak = cli("workflow", "update", "cli-counter", "increment", '"two"', *base)
    state = cli("workflow", "query", "cli-counter", "state", *base)
    unknown = cli("workflow", "query", "cli-counter", "nope", *base)
    assert ok.returncode == 0 and json.loads(ok.stdout)["result"] == 42, ok.stderr
    assert nak.returncode == 1 and json.loads(nak.stdout)["error"]["message"] == "increment needs a number"
    assert state.returncode == 0 and json.loads(state.stdout)["result"] == {"value": 42}
    assert unknown.returncode == 1 and "unknown query type: nope" in unknown.stderr + unknown.stdout


def test_a_late_workflow_task_holds_the_run(tmp_path: Path) -> None:
    async def body() -> Any:
        async with WorkflowEnvironment(App(ENGINE_APP, log=None), db=tmp_path / "x.db") as env:
            pid = await env.start("eng:spin", "eng:worker", 300_000, options={"workflow.task_timeout": "1ms"})
            fine = await env.execute("eng:spin", "eng:worker", 10, options={"workflow.task_timeout": "10s"})
            await env.idle()
            return fine, await env.engine.describe(pid)

    fine, held = run(body())
    assert fine == sum(i % 7 for i in range(1, 11))
    assert held.status == "held" and "over the run's task_timeout of 1ms" in held.reason


def test_a_delayed_start_survives_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "x.db"

    async def first() -> tuple[str, int]:
        async with WorkflowEnvironment(App(CONF_APP, log=None), db=db) as env:
            before = env.clock.now_ns()
            pid = await env.start("conf:sleepy", "conf:worker", 0, options={"workflow.start_delay": "1h"})
            await env.idle()
            assert (await env.engine.describe(pid)).status == "running"
            return pid, before

    async def second(pid: str) -> Any:
        async with WorkflowEnvironment(App(CONF_APP, log=None), db=db) as env:
            return await env.result(pid)

    pid, before = run(first())
    value = run(second(pid))
    assert value["first_ms"] >= (before + 3600 * 1_000_000_000) // 1_000_000


def test_a_schema_3_database_is_migrated_in_place(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    Store(db).close()
    conn = sqlite3.connect(db)
    conn.execute("DROP TABLE updates")
    conn.execute("ALTER TABLE runs DROP COLUMN queries")
    conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    store = Store(db)
    try:
        cols = {r[1] for r in store.db.execute("PRAGMA table_info(runs)")}
        tables = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "queries" in cols and "updates" in tables and store.meta("schema_version") == str(SCHEMA_VERSION)
    finally:
        store.close()


def test_worker_options_without_effect_are_named_at_start(tmp_path: Path) -> None:
    lines: list[str] = []
    app = App(CONF_APP, log=lambda _pid, text: lines.append(text))
    app.registry.entries["conf:limited"].data["worker_options"]["max_concurrent_activity_task_pollers"] = 4

    async def body() -> None:
        async with WorkflowEnvironment(app, db=tmp_path / "x.db"):
            pass

    run(body())
    assert any("max_concurrent_activity_task_pollers has no effect on the embedded engine" in ln for ln in lines), lines
