"""The process model on Temporal: functions and processes as workflow callers (one wide test, the
dev server's workflow tasks are slow), and the project's Lua suite through ``duralua test``."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from duralua.errors import CallError
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
            for label, name, args in (
                ("workflow_roundtrip", "workflow_roundtrip", ["rt:worker"]),
                ("background_job", "background_job", ["rt:worker"]),
                ("exec_workflow", "exec_workflow", ["rt:worker"]),
                ("monitor_workflow_fail", "monitor_workflow_fail", ["rt:worker"]),
                ("echo", "echo", []), ("link", "link", [False]),
                ("unwatch_both", "unwatch_workflow", ["rt:worker", "both", False]),
                ("unwatch_monitor", "unwatch_workflow", ["rt:worker", "monitor", True]),
                ("unwatch_link", "unwatch_workflow", ["rt:worker", "link", False]),
                ("linked_trapped", "linked_workflow", ["rt:worker", True]),
                ("linked_untrapped", "linked_workflow", ["rt:worker", False]),
                ("trap_set", "trap_options", [True]), ("trap_next", "trap_options", [False]),
            ):  # fmt: skip
                started = time.monotonic()
                try:
                    out[label] = await asyncio.wait_for(host.call("rt:drive", name, *args), 120)
                except CallError as exc:
                    out[label] = {"failed": exc.failure.message, "kind": exc.failure.kind,
                                  "seconds": time.monotonic() - started}  # fmt: skip
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
    # watchers of a workflow: after the helper's report of its EXIT, nothing within 2 s
    assert res["unwatch_both"] == {"unmonitor": True, "unlink": True, "report": "pid.exit", "seen": []}
    assert res["unwatch_monitor"] == {"unmonitor": True, "report": "pid.exit", "seen": ["pid.link.down"]}
    assert res["unwatch_link"] == {"unlink": True, "report": "pid.exit", "seen": ["pid.exit"]}
    trapped = res["linked_trapped"]
    assert trapped["from_ok"] is True and trapped["event"]["kind"] == "pid.link.down"
    assert trapped["event"]["error"].endswith("boom")
    untrapped = res["linked_untrapped"]
    assert untrapped["failed"] == "linked process failed" and untrapped["kind"] == ""
    assert untrapped["seconds"] < 30  # the LINK_DOWN ended the call's 60 s wait, not a timeout
    assert res["trap_set"]["after"] is True and res["trap_set"]["before"] is False
    assert res["trap_next"]["before"] is False and res["trap_next"]["calls"] == res["trap_set"]["calls"] + 1


def test_the_project_suite_on_temporal(request: pytest.FixtureRequest) -> None:
    server = dev_server(request.config)
    proc = duralua_cli("test", "-d", APP, "--engine", "temporal", "--address", server.address)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.rstrip().endswith("5 passed, 0 failed")
