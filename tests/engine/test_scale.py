"""Cost that stays flat as work grows (issue 13): the cost-aware live-state cache, histories
decoded and sized without re-encoding, the child lookup a closing run makes, history limits.
No test here asserts on time; the figures are in bench/RESULTS.md."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from duralua import App
from duralua.app import Workflows
from duralua.codec import dumps
from duralua.core import model as m
from duralua.core.history import ActivationRecord, History, HistoryLimits
from duralua.embedded.engine import EmbeddedEngine, load_history
from duralua.embedded.livecache import RUN_OVERHEAD, LiveCache
from duralua.embedded.replayer import replay_history
from duralua.embedded.store import Store
from duralua.errors import Failure

BENCH_APP = Path(__file__).parents[2] / "bench" / "apps" / "sleepers"


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 120))


@dataclass
class _FakeHistory:
    n: int
    activations: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.activations = list(range(self.n))

    def size(self) -> int:
        return 100 * self.n


@dataclass
class _FakeLive:
    history: _FakeHistory
    lua_bytes: int = 400 * 1024
    closed: bool = False

    def memory_used(self) -> int:
        return self.lua_bytes


def _live(activations: int) -> Any:
    return _FakeLive(_FakeHistory(activations))


def test_cache_keeps_a_long_history_resident_while_short_runs_churn() -> None:
    cache = LiveCache(max_entries=8, max_bytes=1 << 40)
    cache.add("long", _live(3000))
    for i in range(200):
        evicted = cache.add(f"short{i}", _live(1))
        assert len(cache) <= 8
        assert all(e.history.n == 1 for e in evicted)
        if i % 10 == 0:
            cache.touch("long")
    assert "long" in cache


def test_an_idle_long_history_ages_out_eventually() -> None:
    # GreedyDual: every eviction raises the floor, so an entry never used again goes at last.
    cache = LiveCache(max_entries=4, max_bytes=1 << 40)
    cache.add("long", _live(50))
    for i in range(2000):
        cache.add(f"short{i}", _live(1))
    assert "long" not in cache


def test_cache_is_bounded_by_memory() -> None:
    per_entry = 400 * 1024 + RUN_OVERHEAD + 3 * 100
    cache = LiveCache(max_entries=1000, max_bytes=10 * per_entry)
    for i in range(50):
        cache.add(f"r{i}", _live(1))
        assert cache.bytes <= 10 * per_entry
    assert len(cache) == 10
    assert cache.bytes == sum(per_entry for _ in range(10))
    cache.pop("r49")
    assert len(cache) == 9 and cache.bytes == 9 * per_entry


def test_the_entry_being_activated_is_never_evicted() -> None:
    cache = LiveCache(max_entries=0, max_bytes=1)
    assert cache.add("only", _live(1)) == []
    assert "only" in cache
    evicted = cache.add("next", _live(1))
    assert [e.history.n for e in evicted] == [1] and "next" in cache and "only" not in cache


def test_history_from_stored_records_has_the_sizes_of_the_records() -> None:
    info = m.WorkflowInfo("w", "r", "t:t", "q")
    records = [
        ActivationRecord(1, [m.StartWorkflow(args=[1])], [m.ScheduleActivity(1, "a:b", [1], {}, {})]),
        ActivationRecord(
            2,
            [m.ResolveActivity(seq=1, result=None, failure=Failure("x", "Internal", True))],
            [m.CompleteWorkflow(2, result="é")],
            True,
        ),
    ]
    encoded = [dumps(r.to_json()) for r in records]
    loaded = History.from_encoded(info, encoded)
    assert loaded.activations == records
    assert loaded.size() == sum(len(e) for e in encoded) == History(info, list(records)).size()
    assert loaded.length() == History(info, list(records)).length()
    failure = loaded.activations[1].jobs[0]
    assert isinstance(failure, m.ResolveActivity) and isinstance(failure.failure, Failure)


def test_runs_complete_with_a_cache_too_small_for_one_state(tmp_path: Path) -> None:
    """The budget holds no state: only the run being activated stays, others are rebuilt."""
    app = App(BENCH_APP, log=None)

    async def main() -> tuple[list[Any], int]:
        engine = EmbeddedEngine(app.catalog, app.runtime, tmp_path / "x.db", events=app.lifecycle,
                                cache_memory=1)  # fmt: skip
        async with Workflows(app, engine) as wf:
            pids = [await wf.start("bench:long", "bench:worker", 20) for _ in range(3)]
            pids += [await wf.start("bench:sleeper", "bench:worker", 0.05) for _ in range(3)]
            results = list(await asyncio.gather(*[wf.result(p) for p in pids]))
            assert len(engine._cache) <= 1
            return results, engine.cache_misses

    results, misses = run(main())
    assert results == [210, 210, 210, "woke", "woke", "woke"]
    assert misses >= 9


def test_a_closing_run_finds_its_open_children_through_an_index(tmp_path: Path) -> None:
    store = Store(tmp_path / "x.db")
    plan = store.db.execute("EXPLAIN QUERY PLAN SELECT run_id FROM runs WHERE parent_run = ? AND status IN "
                            "('running', 'held')", ("x",)).fetchall()  # fmt: skip
    store.close()
    assert any("runs_parent" in str(row) for row in plan), plan


def test_load_history_reads_what_the_engine_wrote(tmp_path: Path) -> None:
    app = App(BENCH_APP, log=None)

    async def main() -> None:
        async with app.engine(tmp_path / "x.db") as wf:
            await wf.result(await wf.start("bench:long", "bench:worker", 5, workflow_id="long"))

    run(main())
    store = Store(tmp_path / "x.db")
    row = store.latest_run("long")
    assert row is not None
    history = load_history(store, row)
    raw = store.db.execute("SELECT record FROM history WHERE run_id = ? ORDER BY idx", (row["run_id"],)).fetchall()
    store.close()
    assert history.size() == sum(len(r[0]) for r in raw)
    assert len(history.activations) == 6 and history.length() == 1 + 6 * 3  # a task, a job, a command each


def test_schema_has_the_parent_index_after_migrating_an_old_database(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    Store(db).close()
    conn = sqlite3.connect(db)
    conn.execute("DROP INDEX runs_parent")
    conn.commit()
    conn.close()
    store = Store(db)
    names = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    store.close()
    assert "runs_parent" in names


# -- history limits ----------------------------------------------------------------------------

CONF_APP = Path(__file__).parents[1] / "conformance" / "app"
ENGINE_APP = Path(__file__).parent / "app"


def _limited_run(tmp_path: Path, limits: HistoryLimits, calls: int) -> tuple[Any, Any, list[Any], History]:
    app = App(CONF_APP, log=None)
    events: list[Any] = []
    app.lifecycle.subscribe(events.append)

    async def main() -> tuple[Any, Any, History]:
        engine = EmbeddedEngine(app.catalog, app.runtime, tmp_path / "x.db", events=app.lifecycle,
                                history_limits=limits)  # fmt: skip
        async with Workflows(app, engine) as wf:
            value, failure = await wf.outcome(await wf.start("conf:long_history", "conf:worker", calls,
                                                             workflow_id="long"))  # fmt: skip
            return value, failure, engine.history("long")

    value, failure, history = run(main())
    return value, failure, events, history


def test_a_history_over_the_hard_limit_fails_the_run(tmp_path: Path) -> None:
    limits = HistoryLimits(suggest_events=0, warn_events=0, max_events=45)
    value, failure, events, history = _limited_run(tmp_path, limits, 1000)
    assert value is None and failure is not None and failure.kind == "Internal" and failure.retryable is False
    assert "over the limit of 45 events" in failure.message and "continue as new" in failure.message.lower()
    assert 45 <= history.length() < 45 + 3
    assert [e.kind for e in events if e.kind.startswith("run.")][-1] == "run.failed"


def test_a_large_history_warns_once_and_describe_shows_it(tmp_path: Path) -> None:
    app = App(ENGINE_APP, log=None)
    events: list[Any] = []
    app.lifecycle.subscribe(events.append)
    limits = HistoryLimits(suggest_events=0, warn_events=30, max_events=0)

    async def main() -> tuple[Any, Any]:
        engine = EmbeddedEngine(app.catalog, app.runtime, tmp_path / "x.db", events=app.lifecycle,
                                history_limits=limits)  # fmt: skip
        async with Workflows(app, engine) as wf:
            pid = await wf.start("eng:grow", "eng:worker", 40, workflow_id="grow")
            while not any(e.kind == "run.history_large" for e in events):
                await asyncio.sleep(0.01)
            await engine.wait_idle()
            summary = await engine.describe(pid)
            await wf.signal(pid, "go")
            return summary, await wf.result(pid)

    summary, result = run(main())
    warnings = [e for e in events if e.kind == "run.history_large"]
    assert result == 40 and len(warnings) == 1 and warnings[0].subject == "grow"
    assert "warning threshold of 30 events" in warnings[0].message and "continue as new" in warnings[0].message
    assert 30 <= warnings[0].data["history_length"] < 33
    assert summary.status == "running" and summary.reason == warnings[0].message  # what describe shows


def test_replay_sees_the_recorded_suggestion_whatever_the_limits_are_now(tmp_path: Path) -> None:
    value, failure, _events, history = _limited_run(tmp_path, HistoryLimits(suggest_events=30), 100)
    assert failure is None and "never" not in value
    flags = [a.continue_as_new_suggested for a in history.activations]
    assert flags[0] is False and flags[-1] is True
    replay_history(App(CONF_APP, log=None), history)  # the default limits would never suggest here


def test_a_mass_wake_keeps_only_a_bounded_number_of_due_runs_in_memory(tmp_path: Path, monkeypatch: Any) -> None:
    """Timers that fall due together become ready jobs a few batches at a time; the rest stay
    heap entries. A timer due after that backlog still fires (the timer loop is told)."""
    from duralua.embedded import clockwork

    monkeypatch.setattr(clockwork, "DUE_IN_FLIGHT", 8, raising=False)
    app = App(BENCH_APP, log=None)
    seen: list[int] = []

    async def main() -> list[Any]:
        engine = EmbeddedEngine(app.catalog, app.runtime, tmp_path / "x.db", events=app.lifecycle)

        mark_ready = engine._mark_ready

        def counting(run_id: str) -> None:  # every job that makes a run ready passes here
            mark_ready(run_id)
            seen.append(sum(1 for jobs in engine._pending.values() for p in jobs if p.timer is not None))

        engine._mark_ready = counting  # type: ignore[method-assign]
        async with Workflows(app, engine) as wf:
            deadline_ms = int(engine.clock.now_ns() // 1_000_000) + 1500
            pids = [await wf.start("bench:sleep_until", "bench:worker", deadline_ms) for _ in range(60)]
            later = await wf.start("bench:sleeper", "bench:worker", 2.5)
            # A liveness bound, not a timing one: without the kick the later timer waited for
            # whatever woke the timer loop next (a minute here).
            return list(await asyncio.wait_for(asyncio.gather(*[wf.result(p) for p in [*pids, later]]), 30))

    assert run(main()) == ["woke"] * 61
    assert max(seen) <= 8  # all 60 were due at once: without the bound, 60 pending timer jobs
    assert max(seen) > 0


def test_a_closing_run_looks_for_timer_rows_only_if_it_may_have_some(tmp_path: Path) -> None:
    """A run whose history has no timer (and no deadline option) closes without the timers
    statement; runs with a timer or a run timeout leave none behind."""
    app = App(BENCH_APP, log=None)
    statements: list[str] = []

    async def main() -> tuple[list[Any], int]:
        engine = EmbeddedEngine(app.catalog, app.runtime, tmp_path / "x.db", events=app.lifecycle)
        async with Workflows(app, engine) as wf:
            await wf.result(await wf.start("bench:long", "bench:worker", 1))  # the store is open
            engine._db().db.set_trace_callback(statements.append)
            plain = await wf.start("bench:long", "bench:worker", 3)
            results = [await wf.result(plain)]
            plain_deletes = sum(_closing_delete(s) for s in statements)
            hour = {"workflow.run_timeout": "1h"}
            timed = [await wf.start("bench:sleeper", "bench:worker", 0.01),
                     await wf.start("bench:long", "bench:worker", 3, options=hour)]  # fmt: skip
            results += [await wf.result(p) for p in timed]
            engine._db().db.set_trace_callback(None)
        return results, plain_deletes

    results, plain_deletes = run(main())
    assert results == [6, "woke", 6]
    assert plain_deletes == 0
    assert sum(_closing_delete(s) for s in statements) == 2  # one for each of the timed runs
    with sqlite3.connect(tmp_path / "x.db") as db:
        assert db.execute("SELECT COUNT(*) FROM timers").fetchone()[0] == 0


def _closing_delete(statement: str) -> bool:
    """The statement a closing run uses for its timer rows (the trace shows values inlined)."""
    return statement.startswith("DELETE FROM timers WHERE run_id = ") and " AND " not in statement
