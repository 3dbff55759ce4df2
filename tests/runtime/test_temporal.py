"""The process model on Temporal: functions and processes as workflow callers (one wide test, the
dev server's workflow tasks are slow), and the project's Lua suite through ``duralua test``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from duralua.temporal.worker import TemporalHost
from tests.acceptance.cli_support import duralua_cli
from tests.temporal.harness import BackgroundHost, dev_server

APP = Path(__file__).parent / "app"

pytestmark = pytest.mark.temporal


class RuntimeHost(BackgroundHost):
    """The app's workers and its runtime (process hosts, services) on a thread of their own."""

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with TemporalHost(self.app, env=self.env, notify=None), self.app.serve_runtime():
            self._ready.set()
            await self._stop.wait()


def test_processes_and_workflows_on_temporal(request: pytest.FixtureRequest) -> None:
    server = dev_server(request.config)
    host = RuntimeHost(APP, server)
    try:

        async def body() -> dict[str, Any]:
            out: dict[str, Any] = {}
            for name, args in (("workflow_roundtrip", ["rt:worker"]), ("background_job", ["rt:worker"]),
                               ("exec_workflow", ["rt:worker"]), ("monitor_workflow_fail", ["rt:worker"]),
                               ("echo", []), ("link", [False])):  # fmt: skip
                out[name] = await asyncio.wait_for(host.call("rt:drive", name, *args), 120)
            return out

        res = asyncio.run(body())
    finally:
        host.close()
    assert res["workflow_roundtrip"] == {
        "from_ok": True,
        "exit": {"kind": "pid.exit", "value": {"pong": {"answer": 42}}},
    }
    (report,) = res["background_job"]["reports"]
    assert report == {"from": res["background_job"]["wf"], "kind": "pid.exit", "value": {"value": "done"}}
    assert res["exec_workflow"]["value"] == {"value": 5} and res["exec_workflow"]["failed"].endswith("nope")
    assert res["monitor_workflow_fail"] == {"a": "pid.exit", "b": "pid.link.down"}
    assert res["echo"]["reply"] == "hello ada"
    assert res["link"]["exit"]["error"] == "linked process failed"


def test_the_project_suite_on_temporal(request: pytest.FixtureRequest) -> None:
    server = dev_server(request.config)
    proc = duralua_cli("test", "-d", APP, "--engine", "temporal", "--address", server.address)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.rstrip().endswith("5 passed, 0 failed")
