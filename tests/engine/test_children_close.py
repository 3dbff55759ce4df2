"""A child that completes in the same batch as its parent keeps its own outcome."""

from __future__ import annotations

import asyncio
from pathlib import Path

from duralua import App
from duralua.embedded.store import Store
from duralua.testing import WorkflowEnvironment

APP = Path(__file__).parent / "storeapp"


def test_child_completed_just_before_its_parent_is_not_terminated(tmp_path: Path) -> None:
    db = tmp_path / "kids.db"

    async def body() -> object:
        async with WorkflowEnvironment(App(APP, log=None), db=db) as env:
            return await env.execute("st:parent", "st:worker")

    assert asyncio.run(asyncio.wait_for(body(), 60)) == {"child": "slept"}
    store = Store(db, readonly=True)
    try:
        rows = store.runs("WHERE parent_run IS NOT NULL")
    finally:
        store.close()
    assert [r["status"] for r in rows] == ["completed"]
