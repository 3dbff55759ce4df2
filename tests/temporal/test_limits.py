"""On Temporal, the app's instruction budget and memory limit apply to workflows (not only to
its functions): a runaway loop and a memory bomb fail their workflow tasks with the app's
figures in the message, and a healthy run on the same worker (and Lua states) completes."""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from pathlib import Path

import pytest

from duralua import App
from duralua.engine import StartRequest
from duralua.registry import load_app
from duralua.temporal.devserver import DevServer
from duralua.temporal.worker import TemporalHost

from .harness import app_env, dev_server

pytestmark = pytest.mark.temporal
APP = Path(__file__).parent.parent / "engine" / "app"


@pytest.fixture(scope="session")
def temporal_server(request: pytest.FixtureRequest) -> DevServer:
    return dev_server(request.config)


def test_the_apps_limits_hold_runaway_workflows_and_others_complete(temporal_server: DevServer, tmp_path: Path) -> None:
    root = tmp_path / "app"
    shutil.copytree(APP, root)
    index = root / "src" / "_index.yaml"
    index.write_text(
        index.read_text().replace('"127.0.0.1:7233"', '"${env:TEMPORAL_ADDRESS|127.0.0.1:7233}"')
        + "  - {name: healthy, kind: workflow.lua, source: file://healthy.lua, modules: [funcs],\n"
        "     meta: {temporal: {workflow: {worker: worker}}}}\n"
    )
    (root / "src" / "healthy.lua").write_text(
        'local funcs = require("funcs")\nreturn function() return funcs.call("eng:echo", string.rep("ok", 2)) end\n'
    )

    async def phase(bad_entry: str, **limits: int) -> tuple[object, str]:
        """``bad_entry`` and a healthy run on a worker with ``limits``: the healthy run's outcome
        and the message of the bad run's first failed workflow task."""
        env = app_env(temporal_server)
        app = App(registry=load_app(root, env=env), log=None, **limits)  # type: ignore[arg-type]
        workflow_id = f"limits-{bad_entry}-{uuid.uuid4().hex[:8]}"
        async with TemporalHost(app, env=env, notify=None) as host:
            engine = host.engine
            assert engine is not None
            await engine.start_workflow(StartRequest(f"eng:{bad_entry}", "eng:worker", workflow_id=workflow_id))
            outcome = await engine.result(await engine.start_workflow(StartRequest("eng:healthy", "eng:worker")))
            handle = next(iter(host.clients.values())).get_workflow_handle(workflow_id)
            message = ""
            deadline = time.monotonic() + 30
            while not message and time.monotonic() < deadline:
                async for event in handle.fetch_history_events():
                    if event.HasField("workflow_task_failed_event_attributes"):
                        message = event.workflow_task_failed_event_attributes.failure.message
                await asyncio.sleep(0.2)
            await handle.terminate("the test is done")
        return outcome, message

    async def body() -> list[tuple[object, str]]:
        return [await phase("runaway", instruction_budget=2_000_000),
                await phase("bomb", memory_limit=8 * 1024 * 1024)]  # fmt: skip

    (loop_ok, loop_message), (bomb_ok, bomb_message) = asyncio.run(asyncio.wait_for(body(), 120))
    assert loop_ok == bomb_ok == ("okok", None)  # the healthy run completes beside them
    assert "instruction budget of 2000000 exceeded" in loop_message, loop_message
    assert "memory limit of 8388608 bytes" in bomb_message, bomb_message
