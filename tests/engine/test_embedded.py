"""Embedded-engine behaviour beyond the conformance suite: bad input, held runs, replay checks."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest

from duralua import App, CallError
from duralua.embedded.engine import load_history
from duralua.embedded.replayer import replay_history
from duralua.errors import NondeterminismError
from duralua.testing import WorkflowEnvironment

APP = Path(__file__).parent / "app"


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_runaway_loop_and_memory_bomb_hold_their_run_only(tmp_path: Path) -> None:
    async def body() -> tuple[Any, ...]:
        # The app's limits, not the defaults (50,000,000 instructions, 64 MiB), apply to workflows.
        async with WorkflowEnvironment(App(APP, log=None, instruction_budget=2_000_000), db=tmp_path / "x.db") as env:
            loop_pid = await env.start("eng:runaway", "eng:worker", workflow_id="loop")
            ok = await env.execute("eng:ordered", "eng:worker")
            await env.idle()
            loop = await env.engine.describe(loop_pid)
        async with WorkflowEnvironment(App(APP, log=None, memory_limit=8 * 1024 * 1024), db=tmp_path / "y.db") as env:
            bomb_pid = await env.start("eng:bomb", "eng:worker", workflow_id="bomb")
            ok_too = await env.execute("eng:ordered", "eng:worker")
            await env.idle()
            bomb = await env.engine.describe(bomb_pid)
        return ok, ok_too, loop, bomb

    ok, ok_too, loop, bomb = run(body())
    assert ok == ok_too == "ab"  # other runs keep going
    assert loop.status == "held" and "instruction budget of 2000000 exceeded" in loop.reason, loop.reason
    assert bomb.status == "held" and "memory limit of 8388608 bytes" in bomb.reason, bomb.reason


def test_oversized_payload_is_a_clear_non_retryable_error(tmp_path: Path) -> None:
    async def body() -> Any:
        async with WorkflowEnvironment(App(APP, log=None), db=tmp_path / "x.db") as env:
            return await env.execute("eng:big", "eng:worker")

    res = run(body())
    assert res["kind"] == "Invalid" and res["retryable"] is False and "limit" in res["message"]


def test_signal_to_unknown_pid_and_unknown_workflow(tmp_path: Path) -> None:
    async def body() -> Any:
        async with WorkflowEnvironment(App(APP, log=None), db=tmp_path / "x.db") as env:
            with pytest.raises(CallError) as unknown_signal:
                await env.signal("{eng:client@eng:worker|nobody}", "hi", 1)
            with pytest.raises(CallError) as unknown_wf:
                await env.start("eng:does_not_exist", "eng:worker")
            with pytest.raises(CallError) as bad_input:
                await env.start("eng:ordered", "eng:worker", {"x": float("nan")})
            sends = await env.execute("eng:sends", "eng:worker")
            return unknown_signal.value, unknown_wf.value, bad_input.value, sends

    sig, wf, bad, sends = run(body())
    assert sig.failure.kind == "NotFound"
    assert wf.failure.kind == "NotFound" and "eng:does_not_exist" in wf.failure.message
    assert bad.failure.kind == "Invalid"
    assert sends == {"kind": "NotFound"}


def test_reordered_activities_are_reported_by_replay_and_by_the_engine(tmp_path: Path) -> None:
    db = tmp_path / "x.db"

    async def record() -> None:
        async with WorkflowEnvironment(App(APP, log=None), db=db) as env:
            pid = await env.start("eng:ordered", "eng:worker", workflow_id="o1")
            await env.idle()  # first activity done, now sleeping for an hour
            assert (await env.engine.describe(pid)).status == "running"

    run(record())
    changed = tmp_path / "changed"
    shutil.copytree(APP, changed)
    src = changed / "src" / "ordered.lua"
    src.write_text(src.read_text().replace('"eng:first", "a"', '"eng:second", "a"'))
    from duralua.embedded.store import Store

    store = Store(db)
    history = load_history(store, store.latest_run("o1") or {})
    store.close()
    replay_history(App(APP, log=None), history)  # the unchanged code replays cleanly
    with pytest.raises(NondeterminismError) as info:
        replay_history(App(changed, log=None), history)
    assert info.value.position == 1
    assert "ScheduleActivity(eng:first)" in info.value.recorded
    assert "ScheduleActivity(eng:second)" in info.value.produced

    async def resume_with_changed_code() -> Any:
        env = WorkflowEnvironment(App(changed, log=None), db=db)
        async with env:
            await env.sleep(3600)
            return await env.engine.describe("o1")

    held = run(resume_with_changed_code())
    assert held.status == "held" and "non-determinism" in held.reason


def test_reused_lua_states_do_not_leak_between_runs(tmp_path: Path) -> None:
    async def body() -> list[Any]:
        async with WorkflowEnvironment(App(APP, log=None), db=tmp_path / "x.db") as env:
            return [await env.execute("eng:leaky", "eng:worker") for _ in range(5)]

    results = run(body())
    fresh = {"calls": 1, "counter": 1, "funcs_patched": False, "process_patched": False, "string_patched": False}
    assert results == [fresh] * 5
