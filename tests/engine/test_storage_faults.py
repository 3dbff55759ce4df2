"""Storage faults, ownership and outside inputs on a real SQLite file (no mocks).

Disk full is made with ``PRAGMA max_page_count`` on the engine's own connection: SQLite then
reports SQLITE_FULL exactly as on a full disk, without root or a tmpfs.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from duralua import App, CallError
from duralua.codec import dumps
from duralua.embedded.activities import backoff_ns
from duralua.embedded.engine import EmbeddedEngine, load_history
from duralua.embedded.replayer import replay_history
from duralua.embedded.store import Store
from duralua.errors import EngineError
from duralua.testing import WorkflowEnvironment

APP = Path(__file__).parent / "storeapp"


def run(coro: Any, timeout: float = 60) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


def _assert_histories_replay(app: App, db: Path) -> None:
    store = Store(db, readonly=True)
    try:
        for row in store.runs():
            history = load_history(store, row)
            idx = [r[0] for r in store.db.execute("SELECT idx FROM history WHERE run_id = ? ORDER BY idx",
                                                   (row["run_id"],))]  # fmt: skip
            assert idx == list(range(1, len(idx) + 1)), f"history of {row['workflow_id']} has a gap: {idx}"
            replay_history(app, history)
    finally:
        store.close()


def test_disk_full_loses_nothing_and_does_nothing_twice(tmp_path: Path) -> None:
    db = tmp_path / "full.db"
    app = App(APP, log=None)
    total = 40

    async def body() -> tuple[Any, list[Any], int]:
        async with WorkflowEnvironment(app, db=db) as env:
            eng = env.engine
            pid = await env.start("st:per_signal", "st:worker", total, workflow_id="ps")
            await env.idle()
            conn = eng._db().db
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count = {pages}")
            rejected: list[int] = []
            failures = 0
            starts: list[str] = []
            pad = "x" * 3000  # makes every commit need new pages
            for i in range(total // 2):
                try:
                    await eng.signal(pid, "n", [{"n": i}])
                except CallError as exc:
                    assert exc.failure.kind == "Unavailable" and exc.failure.retryable is True
                    rejected.append(i)
                    failures += 1
                try:
                    starts.append(await env.start("st:quick", "st:worker", i, workflow_id=f"q{i}-{pad[:0]}"))
                except CallError:
                    failures += 1
                await asyncio.sleep(0.01)
            conn.execute("PRAGMA max_page_count = 1073741823")
            for i in rejected:  # a client retries what was refused
                await eng.signal(pid, "n", [{"n": i}])
            for i in range(total // 2, total):
                await eng.signal(pid, "n", [{"n": i}])
            seen = await env.result(pid)
            quick = [await env.result(p) for p in starts]
            return seen, quick, failures

    seen, quick, failures = run(body())
    assert failures > 0, "the database never filled up: the test did not test anything"
    assert sorted(seen) == list(range(total))  # every accepted signal exactly once
    assert quick == sorted(quick) and len(quick) == len(set(quick))
    _assert_histories_replay(app, db)


def test_continue_as_new_keeps_unread_signals(tmp_path: Path) -> None:
    async def body() -> Any:
        async with WorkflowEnvironment(App(APP, log=None), db=tmp_path / "can.db") as env:
            pid = await env.start("st:counter", "st:worker", workflow_id="counter")
            await asyncio.gather(*(env.signal(pid, "n", {"n": i}) for i in range(30)))
            return await env.result(pid)

    seen = run(body())
    assert sorted(seen) == list(range(30))


@pytest.mark.parametrize("how", ["symlink", "hardlink", "lock_deleted"])
def test_second_engine_on_the_same_database_refuses(tmp_path: Path, how: str) -> None:
    db = tmp_path / "one.db"
    app = App(APP, log=None)

    async def body() -> str:
        first = EmbeddedEngine(app.catalog, app.runtime, db)
        await first.start()
        try:
            other = tmp_path / "other.db"
            if how == "symlink":
                other.symlink_to(db)
            elif how == "hardlink":
                os.link(db, other)
            else:
                Path(str(db) + ".lock").unlink()
                other = db
            second = EmbeddedEngine(app.catalog, app.runtime, other)
            with pytest.raises(EngineError) as err:
                await second.start()
            return str(err.value)
        finally:
            await first.stop()

    message = run(body())
    # The holder is named from the owner row the first engine wrote, except through a hard link
    # (its commits are in the -wal file of the other name).
    holder = "another engine" if how == "hardlink" else f"pid {os.getpid()} on "
    assert f"already driven by {holder}" in message and "\n" not in message


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_database_deleted_or_replaced_under_the_engine_stops_it(tmp_path: Path, how: str) -> None:
    db = tmp_path / "gone.db"
    app = App(APP, log=None)

    async def body() -> EngineError:
        engine = EmbeddedEngine(app.catalog, app.runtime, db, poll_interval=0.02)
        await engine.start()
        try:
            if how == "deleted":
                db.unlink()
            else:
                other = tmp_path / "new.db"
                sqlite3.connect(other).close()
                os.replace(other, db)
            return await asyncio.wait_for(engine.wait_fatal(), 10)
        finally:
            await engine.stop()

    error = run(body())
    assert how in str(error) and str(db) in str(error)


def test_deleted_database_is_not_silently_recreated(tmp_path: Path) -> None:
    db = tmp_path / "kept.db"
    app = App(APP, log=None)
    run(WorkflowEnvironment(app, db=db).__aenter__())  # creates it; left open on purpose: -wal stays
    leftovers = tmp_path / "copy"
    leftovers.mkdir()
    for suffix in ("", "-wal"):
        if Path(f"{db}{suffix}").exists():
            shutil.copy(f"{db}{suffix}", leftovers / f"kept.db{suffix}")
    target = leftovers / "kept.db"
    target.unlink()
    if not Path(f"{target}-wal").exists():
        Path(f"{target}-wal").write_bytes(b"")

    async def body() -> None:
        engine = EmbeddedEngine(app.catalog, app.runtime, target)
        await engine.start()

    with pytest.raises(EngineError, match="missing"):
        run(body())
    assert not target.exists()


def test_another_owner_row_stops_the_engine(tmp_path: Path) -> None:
    db = tmp_path / "owned.db"
    app = App(APP, log=None)

    async def body() -> EngineError:
        engine = EmbeddedEngine(app.catalog, app.runtime, db)
        await engine.start()
        try:
            other = sqlite3.connect(db, isolation_level=None)
            other.execute("UPDATE meta SET value = ? WHERE key = 'owner'", (dumps({"token": "intruder"}),))
            other.close()
            with pytest.raises(CallError):
                await engine.start_workflow(_start_request())
            return await asyncio.wait_for(engine.wait_fatal(), 10)
        finally:
            await engine.stop()

    error = run(body())
    assert "took over" in str(error)


def _start_request() -> Any:
    from duralua.engine import StartRequest

    return StartRequest("st:quick", "st:worker", [1])


@pytest.mark.parametrize(
    ("workflow_id", "needle"),
    [("", "empty"), ("  ", "empty"), ("a\x00b", "control"), ("line\nbreak", "control"),
     ("{a@b|c}", "PID"), ("x" * 10_000, "limit")],
)  # fmt: skip
def test_bad_workflow_ids_are_refused(tmp_path: Path, workflow_id: str, needle: str) -> None:
    async def body() -> CallError:
        async with WorkflowEnvironment(App(APP, log=None), db=tmp_path / "ids.db") as env:
            with pytest.raises(CallError) as err:
                await env.start("st:quick", "st:worker", 1, workflow_id=workflow_id)
            return err.value

    err = run(body())
    assert err.failure.kind == "Invalid" and needle in err.failure.message


def test_reserved_and_bad_topics_are_refused_and_change_nothing(tmp_path: Path) -> None:
    async def body() -> tuple[list[str], Any]:
        async with WorkflowEnvironment(App(APP, log=None), db=tmp_path / "topics.db") as env:
            pid = await env.start("st:per_signal", "st:worker", 1, workflow_id="t")
            await env.idle()
            refused = []
            for topic in ("@future/1", "@timer/1", "@inbox", "", "a\x07b"):
                with pytest.raises(CallError) as err:
                    await env.signal(pid, topic, {"n": 99})
                refused.append(err.value.failure.message)
            await env.signal(pid, "n", {"n": 7})
            return refused, await env.result(pid)

    refused, result = run(body())
    assert len(refused) == 5 and all(m for m in refused)
    assert result == [7]


def test_backoff_is_capped_before_the_power() -> None:
    second = 1_000_000_000
    assert backoff_ns(second, 2.0, 100 * second, 1) == second
    assert backoff_ns(second, 2.0, 100 * second, 3) == 4 * second
    assert backoff_ns(second, 2.0, 100 * second, 100_000) == 100 * second
    assert backoff_ns(second, 1e300, 0, 50) == 1 << 62  # no maximum: still finite
    assert backoff_ns(second, 1.0, 100 * second, 10**9) == second
