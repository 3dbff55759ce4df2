"""The collector thresholds an engine serves under (duralua.gcpolicy): raised while an engine
runs, left alone when the application chose its own, restored when the last engine stops."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from duralua import App, gcpolicy
from duralua.gcpolicy import PYTHON_DEFAULT, TUNED, tune

BENCH_APP = Path(__file__).parents[2] / "bench" / "apps" / "sleepers"


@pytest.fixture(autouse=True)
def python_defaults() -> Iterator[None]:
    # Other engines of the session (a Temporal host serving on a thread) may hold the tuning:
    # each test starts as a process where no engine runs yet, and gets the session's state back.
    saved = gc.get_threshold(), gcpolicy._holders, gcpolicy._changed
    gc.set_threshold(*PYTHON_DEFAULT)
    gcpolicy._holders, gcpolicy._changed = 0, False
    yield
    gc.set_threshold(*saved[0])
    gcpolicy._holders, gcpolicy._changed = saved[1], saved[2]


def test_tuning_applies_while_held_and_the_defaults_come_back_after_the_last_release() -> None:
    first = tune()
    assert gc.get_threshold() == TUNED
    second = tune()
    first()
    first()  # a second release of the same hold changes nothing
    assert gc.get_threshold() == TUNED, "another engine still holds the tuning"
    second()
    assert gc.get_threshold() == PYTHON_DEFAULT


def test_thresholds_the_application_chose_are_left_alone() -> None:
    gc.set_threshold(5000, 20, 30)
    release = tune()
    assert gc.get_threshold() == (5000, 20, 30)
    release()
    assert gc.get_threshold() == (5000, 20, 30)


def test_thresholds_changed_while_tuned_are_not_undone() -> None:
    release = tune()
    gc.set_threshold(2000, 5, 5)
    release()
    assert gc.get_threshold() == (2000, 5, 5)


def test_the_engine_tunes_while_it_serves_unless_told_not_to(tmp_path: Path) -> None:
    app = App(BENCH_APP, log=None)

    async def serving(**kw: bool) -> tuple[int, int, int]:
        async with app.engine(tmp_path / f"{len(kw)}.db", **kw) as wf:
            assert await wf.result(await wf.start("bench:long", "bench:worker", 3)) == 6
            return gc.get_threshold()

    assert asyncio.run(serving()) == TUNED
    assert gc.get_threshold() == PYTHON_DEFAULT
    assert asyncio.run(serving(gc_tuning=False)) == PYTHON_DEFAULT


def test_a_closed_run_is_freed_without_the_cyclic_collector(tmp_path: Path) -> None:
    """A closed run's machine, scheduler and Lua tenant point at each other; left to the
    collector (which the tuning runs less often) they held 514 MB at 100,000 sleepers."""
    from duralua.core.machine import WorkflowMachine
    from duralua.lua.workflow_program import shared_state_count

    app = App(BENCH_APP, log=None)

    def machines() -> int:
        return sum(isinstance(o, WorkflowMachine) for o in gc.get_objects())

    async def body() -> int:
        async with app.engine(tmp_path / "e.db") as wf:
            gc.collect()
            before = machines()  # other apps' states keep theirs
            gc.disable()
            try:
                pids = [await wf.start("bench:long", "bench:worker", 2) for _ in range(40)]
                assert [await wf.result(p) for p in pids] == [3] * 40
                assert len(wf.engine._cache) == 0, "closed runs leave the cache"
                return machines() - before
            finally:
                gc.enable()

    alive = asyncio.run(body())
    # A shared state keeps the last run it served as its callbacks' context until the next one.
    assert alive <= shared_state_count(app.catalog), alive
