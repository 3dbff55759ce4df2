"""Parked runs (issue 13: "keep nothing per sleeping run in memory beyond a timer entry"): a run
that waits only for a timer far enough away leaves the live-state cache at once and is rebuilt
when the timer fires; a short timer, or anything else in flight, keeps it cached."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from duralua import App
from duralua.embedded.clock import VirtualClock
from duralua.embedded.livecache import PARK_BASE_NS, PARK_NS_PER_COST, REBUILD_BASE
from duralua.lifecycle import ENGINE_COMMIT, LifecycleEvent
from duralua.testing import WorkflowEnvironment
from tests.unit.registry_support import make_app

INDEX = """\
version: "1.0"
namespace: p
entries:
  - {name: client, kind: temporal.client, address: "127.0.0.1:7233"}
  - {name: worker, kind: temporal.worker, client: client, task_queue: p}
  - name: nap
    kind: workflow.lua
    modules: [time]
    meta: {temporal: {workflow: {worker: worker}}}
    source: |
      local time = require("time")
      return function(ms)
        time.sleep(string.format("%dms", ms))
        return time.now():unix_milli()
      end
  - name: poll
    kind: workflow.lua
    modules: [time]
    meta: {temporal: {workflow: {worker: worker}}}
    source: |
      local time = require("time")
      return function(n, ms)
        for i = 1, n do time.sleep(string.format("%dms", ms)) end
        return n
      end
  - name: wait_reply
    kind: workflow.lua
    modules: [time, funcs]
    meta: {temporal: {workflow: {worker: worker}}}
    source: |
      local time = require("time")
      local funcs = require("funcs")
      return function()
        local f = funcs.async("p:slow")
        local r = channel.select{f:channel():case_receive(), time.after("1h"):case_receive()}
        return r.channel == f:channel()
      end
  - name: slow
    kind: function.lua
    meta: {temporal: {activity: {worker: worker}}}
    source: |
      local time = require("time")
      return {main = function() time.sleep("50ms") return true end}
    method: main
    modules: [time]
"""


def write_app(root: Path) -> Path:
    root.mkdir(parents=True)
    return make_app(root, {"_index.yaml": INDEX})


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 120))


def _cached(env: WorkflowEnvironment, pid: str) -> bool:
    engine = env.engine
    return any(live.machine.info.pid == pid for live in engine._cache.values())


def test_a_run_asleep_for_long_is_parked_and_wakes_by_replay(tmp_path: Path) -> None:
    reported: list[int] = []

    def on_event(event: LifecycleEvent) -> None:
        if event.kind == ENGINE_COMMIT:
            reported.append(int(event.data.get("cache_parks", 0)))

    async def body() -> tuple[bool, bool, int, Any, int]:
        app = App(write_app(tmp_path / "app"), log=None)
        app.lifecycle.subscribe(on_event)
        async with WorkflowEnvironment(app, db=tmp_path / "x.db") as env:
            long_nap = await env.start("p:nap", "p:worker", 3_600_000)
            short_nap = await env.start("p:nap", "p:worker", 100)
            await env.idle()
            parked, kept, parks = not _cached(env, long_nap), _cached(env, short_nap), env.engine.cache_parks
            start_ms = env.clock.now_ns() // 1_000_000
            woke_ms = await env.result(long_nap)
            await env.result(short_nap)
            return parked, kept, parks, woke_ms, start_ms

    parked, kept, parks, woke_ms, start_ms = run(body())
    assert parked, "an hour's sleep keeps no live state"
    assert kept, "a 100 ms sleep stays cached (rebuilding it would cost more than holding it)"
    assert parks == 1
    assert sum(reported) == 1, "each commit reports its parks (the metrics read them)"
    assert woke_ms >= start_ms + 3_600_000 - 1


def test_a_run_with_an_activity_in_flight_is_not_parked_whatever_its_timer(tmp_path: Path) -> None:
    async def body() -> tuple[bool, int, Any]:
        app = App(write_app(tmp_path / "app"), log=None)
        async with WorkflowEnvironment(app, db=tmp_path / "x.db", time_skipping=False) as env:
            pid = await env.start("p:wait_reply", "p:worker")
            await asyncio.sleep(0.01)  # its first activation is in (the activity takes 50 ms)
            cached = _cached(env, pid)
            return cached, env.engine.cache_parks, await env.result(pid)

    cached, parks, result = run(body())
    assert cached and parks == 0
    assert result is True


def test_the_horizon_grows_with_the_history_so_a_long_poller_stays_cached(tmp_path: Path) -> None:
    # 3 s sleeps: parked while the rebuild is cheap, cached once the horizon passes 3 s.
    sleep_ms = 3_000
    cached_after = (sleep_ms * 1_000_000 - PARK_BASE_NS) // PARK_NS_PER_COST - REBUILD_BASE

    async def body() -> tuple[Any, int]:
        async with WorkflowEnvironment(App(write_app(tmp_path / "app"), log=None), db=tmp_path / "x.db") as env:
            pid = await env.start("p:poll", "p:worker", cached_after + 20, sleep_ms)
            return await env.result(pid), env.engine.cache_parks

    result, parks = run(body())
    assert result == cached_after + 20
    # One park per activation while the history is shorter than the horizon needs.
    assert cached_after - 2 <= parks <= cached_after + 2, (parks, cached_after)


def test_parking_can_be_turned_off(tmp_path: Path) -> None:
    async def body() -> tuple[bool, int, Any]:
        app = App(write_app(tmp_path / "app"), log=None)
        clock = VirtualClock()
        async with app.engine(tmp_path / "x.db", park_sleepers=False, clock=clock) as wf:
            pid = await wf.start("p:nap", "p:worker", 3_600_000)
            await wf.engine.wait_idle()
            cached = any(live.machine.info.pid == pid for live in wf.engine._cache.values())
            wf.engine.advance_clock(clock.now_ns() + 3_600 * 10**9)
            return cached, wf.engine.cache_parks, await wf.result(pid)

    cached, parks, result = run(body())
    assert (cached, parks) == (True, 0)
    assert isinstance(result, int)


def test_a_parked_run_whose_rebuild_raises_is_held_alone(tmp_path: Path) -> None:
    """The wake of a parked run is a rebuild: an exception there holds that run, and the
    engine goes on serving the others (and new ones)."""

    async def body() -> tuple[str, Any, Any]:
        app = App(write_app(tmp_path / "app"), log=None)
        async with WorkflowEnvironment(app, db=tmp_path / "x.db") as env:
            engine = env.engine
            doomed = await env.start("p:nap", "p:worker", 3_600_000)
            await env.idle()
            assert engine.cache_parks == 1
            doomed_run = (await engine.describe(doomed)).run_id
            build = engine._new_machine

            def failing(info: Any, *args: Any, **kw: Any) -> Any:
                if info.run_id == doomed_run:
                    raise RuntimeError("boom while rebuilding")
                return build(info, *args, **kw)

            engine._new_machine = failing  # type: ignore[method-assign]
            other = await env.start("p:nap", "p:worker", 7_200_000)
            await env.sleep(3_700)  # the doomed run's timer fires: its rebuild raises
            status = (await engine.describe(doomed)).status
            return status, await env.result(other), await env.execute("p:nap", "p:worker", 10)

    status, other, fresh = run(body())
    assert status == "held"
    assert isinstance(other, int) and isinstance(fresh, int)
