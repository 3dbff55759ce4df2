"""Workflow runs share Lua states as tenants (lua/workflow_program.py): many runs live in a
few states, none sees another's globals or random numbers, and a run that finds its shared
state out of memory is rebuilt in a state of its own instead of being held for it."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import textwrap
from pathlib import Path
from typing import Any

import lupa.lua54 as lua54

from duralua import App
from duralua.lua import workflow_program
from duralua.testing import WorkflowEnvironment

INDEX = """\
version: "1.0"
namespace: s
entries:
  - {name: client, kind: temporal.client, address: "127.0.0.1:7233"}
  - {name: worker, kind: temporal.worker, client: client, task_queue: s}
  - {name: mine, kind: workflow.lua, source: file://mine.lua, modules: [time],
     meta: {temporal: {workflow: {worker: worker}}}}
  - {name: dice, kind: workflow.lua, source: file://dice.lua, modules: [time],
     meta: {temporal: {workflow: {worker: worker}}}}
  - {name: hog, kind: workflow.lua, source: file://hog.lua, modules: [time],
     meta: {temporal: {workflow: {worker: worker}}}}
"""

# Sets a global and a field of a module copy, waits, and reports what it sees afterwards.
MINE = """\
local time = require("time")
return function(n)
  marker = n
  time.marker = n
  string.marker = n
  local inbox = process.inbox()
  inbox:receive()
  return {marker = marker, time = time.marker, string = string.marker}
end
"""

# Random numbers drawn across waits, while other runs of the state draw theirs.
DICE = """\
local time = require("time")
return function(n)
  local out = {}
  for i = 1, n do
    out[#out + 1] = math.random(1, 1000000)
    out[#out + 1] = math.random()
    time.sleep("1ms")
  end
  return out
end
"""

# Holds `mb` MB in a global once told to (each signal: grow by that much), then finishes.
HOG = """\
local time = require("time")
return function()
  local inbox = process.inbox()
  local kept = {}
  while true do
    local mb = inbox:receive():payload():data()
    if mb == 0 then return #kept end
    kept[#kept + 1] = string.rep("x", mb * 1024 * 1024)
  end
end
"""


def write_app(root: Path) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "wippy.lock").write_text("directories:\n  src: ./src\n  modules: .wippy\n")
    (root / "src" / "_index.yaml").write_text(textwrap.dedent(INDEX))
    for name, text in (("mine", MINE), ("dice", DICE), ("hog", HOG)):
        (root / "src" / f"{name}.lua").write_text(text)
    return root


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 120))


def test_a_hundred_live_runs_share_a_few_states_and_keep_their_globals(tmp_path: Path) -> None:
    async def body() -> tuple[int, list[Any]]:
        async with WorkflowEnvironment(App(write_app(tmp_path / "app"), log=None), db=tmp_path / "x.db") as env:
            pids = [await env.start("s:mine", "s:worker", i) for i in range(100)]
            await env.idle()
            states = workflow_program.shared_state_count(env.app.catalog)
            for pid in pids:
                await env.signal(pid, "go", True)
            return states, [await env.outcome(pid) for pid in pids]

    states, outcomes = run(body())
    assert states == 2  # 100 runs, 64 to a state
    for i, (value, failure) in enumerate(outcomes):
        assert failure is None, failure
        assert value == {"marker": i, "time": i, "string": i}


def _expected_draws(seed: int, n: int) -> list[Any]:
    """What the C generator of a Lua state of its own draws for a run with this seed."""
    lua = lua54.LuaRuntime()
    draw = lua.eval(
        "function(seed, n) math.randomseed(seed) local out = {} "
        "for i = 1, n do out[#out + 1] = math.random(1, 1000000) out[#out + 1] = math.random() end "
        "return table.concat((function() local s = {} for i, v in ipairs(out) do s[i] = string.format('%.17g', v) end "
        "return s end)(), ',') end"
    )
    return [float(x) if "." in x or "e" in x else int(x) for x in str(draw(seed, n)).split(",")]


def test_random_numbers_are_the_runs_own_when_runs_interleave(tmp_path: Path) -> None:
    """Six runs draw across waits in one shared state, live and rebuilt by replay at every
    activation: each gets exactly what a state of its own seeded with the run's seed gives."""

    async def draw(cache_size: int) -> list[tuple[Any, int]]:
        db = tmp_path / f"{cache_size}.db"
        async with WorkflowEnvironment(App(write_app(tmp_path / f"app{cache_size}"), log=None), db=db,
                                       cache_size=cache_size) as env:  # fmt: skip
            pids = [await env.start("s:dice", "s:worker", 5, workflow_id=f"d{i}") for i in range(6)]
            outcomes = [await env.outcome(pid) for pid in pids]
        with sqlite3.connect(db) as conn:
            seeds = {wid: json.loads(info)["seed"] for wid, info in conn.execute("SELECT workflow_id, info FROM runs")}
        found = []
        for i, (value, failure) in enumerate(outcomes):
            assert failure is None, failure
            found.append((value, seeds[f"d{i}"]))
        return found

    for cache_size in (2000, 0):  # 0: every activation rebuilds the run by replay
        found = run(draw(cache_size))
        assert len({seed for _, seed in found}) == 6
        for value, seed in found:
            assert value == _expected_draws(seed, 5)


def test_a_run_is_rebuilt_in_a_state_of_its_own_when_its_neighbour_fills_the_shared_one(tmp_path: Path) -> None:
    """Two runs in one state with a 64 MB limit: the first keeps 24 MB, then the second needs
    as much again (and a copy while building it). Alone it fits: it is rebuilt in a state of its
    own and goes on; neither is held. A run that does not fit alone is still held (test_embedded)."""

    async def body() -> tuple[list[Any], list[Any], int]:
        app = App(write_app(tmp_path / "app"), log=None, memory_limit=64 * 1024 * 1024)
        async with WorkflowEnvironment(app, db=tmp_path / "x.db") as env:
            first = await env.start("s:hog", "s:worker", workflow_id="first")
            second = await env.start("s:hog", "s:worker", workflow_id="second")
            await env.idle()
            await env.signal(first, "grow", 24)
            await env.idle()
            await env.signal(second, "grow", 24)
            await env.idle()
            described = [await env.engine.describe(pid) for pid in (first, second)]
            exclusive = len(env.engine._exclusive)  # type: ignore[attr-defined]
            for pid in (first, second):
                await env.signal(pid, "grow", 0)
            return [await env.outcome(pid) for pid in (first, second)], described, exclusive

    outcomes, described, exclusive = run(body())
    assert [d.status for d in described] == ["running", "running"], [d.reason for d in described]
    assert exclusive == 1  # the second run, rebuilt alone
    assert outcomes == [(1, None), (1, None)]


def test_two_apps_in_one_process_each_load_their_own_imports(tmp_path: Path) -> None:
    """States are shared within an app: two apps whose libraries have the same entry id but
    different code each get their own (a state resolves imports by entry id)."""

    def app_with(root: Path, word: str) -> App:
        (root / "src").mkdir(parents=True)
        (root / "wippy.lock").write_text("directories:\n  src: ./src\n  modules: .wippy\n")
        (root / "src" / "_index.yaml").write_text(
            textwrap.dedent("""\
            version: "1.0"
            namespace: s
            entries:
              - {name: client, kind: temporal.client, address: "127.0.0.1:7233"}
              - {name: worker, kind: temporal.worker, client: client, task_queue: s}
              - {name: lib, kind: library.lua, source: file://lib.lua}
              - {name: uses, kind: workflow.lua, source: file://uses.lua, imports: {lib: s:lib},
                 meta: {temporal: {workflow: {worker: worker}}}}
            """)
        )
        (root / "src" / "lib.lua").write_text(f'return {{word = "{word}"}}\n')
        # The import is required after a wait, once the other app's run has loaded too.
        (root / "src" / "uses.lua").write_text(
            'return function() process.inbox():receive() return require("lib").word end\n'
        )
        return App(root, log=None)

    async def body() -> list[Any]:
        one, two = app_with(tmp_path / "one", "first"), app_with(tmp_path / "two", "second")
        async with (WorkflowEnvironment(one, db=tmp_path / "1.db") as a,
                    WorkflowEnvironment(two, db=tmp_path / "2.db") as b):  # fmt: skip
            started = [(env, await env.start("s:uses", "s:worker")) for env in (a, b, a, b)]
            for env, pid in started:
                await env.signal(pid, "go", True)
            return [(await env.outcome(pid))[0] for env, pid in started]

    assert run(body()) == ["first", "second", "first", "second"]
