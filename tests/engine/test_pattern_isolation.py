"""A pathological pattern match fails its own run with the budget error; others keep going."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from duralua import App
from duralua.testing import WorkflowEnvironment

APP = Path(__file__).parent / "patternapp"


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 120))


def expected(i: int) -> str:
    line = f"order={i}, status = paid ,total={i * 10}"
    return f"{i}/paid/{len(line.replace(' ', ''))}"


def test_backtracking_and_huge_gsub_hold_their_runs_while_healthy_ones_complete(tmp_path: Path) -> None:
    async def body() -> tuple[Any, ...]:
        async with WorkflowEnvironment(App(APP, log=None), db=tmp_path / "x.db") as env:
            bad = [
                await env.start("patt:backtrack", "patt:worker", 800, workflow_id="backtrack"),
                await env.start("patt:huge_gsub", "patt:worker", 20000, workflow_id="gsub"),
            ]
            # healthy runs started before, between and after the pathological steps
            early = [await env.start("patt:healthy", "patt:worker", i) for i in range(3)]
            more = await env.start("patt:backtrack", "patt:worker", 400, workflow_id="backtrack-400")
            late = [await env.start("patt:healthy", "patt:worker", i) for i in range(3, 8)]
            results = [await env.result(pid) for pid in early + late]
            await env.idle()
            states = [await env.engine.describe(pid) for pid in [*bad, more]]
            return results, states

    results, states = run(body())
    assert results == [expected(i) for i in range(8)]
    for state in states:
        assert state.status == "held", state
        assert "instruction budget" in state.reason and "work.lua" in state.reason


def test_a_small_backtracking_match_still_completes(tmp_path: Path) -> None:
    async def body() -> Any:
        async with WorkflowEnvironment(App(APP, log=None), db=tmp_path / "x.db") as env:
            return await env.execute("patt:backtrack", "patt:worker", 40)

    assert run(body()) is None  # no "b": the same answer as C, within the budget
