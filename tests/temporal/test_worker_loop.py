"""The Temporal worker's own loop: activations run inline on it, each activity attempt has
one timer for its heartbeats and its bound, and events nobody reads are not made.

The unit tests need no server: the SDK's ``ActivityEnvironment`` runs the dynamic activity
in an activity context, and the executor is driven as the SDK drives it (``run_in_executor``).
One test serves a workflow on the session's dev server to see where its steps run."""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio import activity
from temporalio.common import RawValue
from temporalio.testing import ActivityEnvironment

from duralua import App
from duralua.engine import StartRequest
from duralua.lifecycle import LifecycleEvent
from duralua.registry import load_app
from duralua.temporal.converter import from_payload, to_payload
from duralua.temporal.devserver import DevServer
from duralua.temporal.dynamic import activity_function
from duralua.temporal.events import LoopEmitter
from duralua.temporal.inline import InlineExecutor
from duralua.temporal.worker import TemporalHost
from tests.unit.registry_support import make_app

from .harness import app_env

_MARK: contextvars.ContextVar[str] = contextvars.ContextVar("mark", default="unset")

APP = {
    "_index.yaml": """
        version: "1.0"
        namespace: t
        entries:
          - {name: client, kind: temporal.client, address: "${env:TEMPORAL_ADDRESS|127.0.0.1:7233}"}
          - {name: worker, kind: temporal.worker, client: t:client, task_queue: worker-loop}
          - name: nap
            kind: function.lua
            source: file://nap.lua
            method: main
            modules: [time]
            meta: {temporal: {activity: {worker: worker}}}
          - name: hello
            kind: workflow.lua
            source: file://hello.lua
            method: main
            meta: {temporal: {workflow: {worker: worker}}}
    """,
    "hello.lua": """
        return {main = function() print("step") return 1 end}
    """,
    "nap.lua": """
        local time = require("time")
        return {main = function(d) time.sleep(d) return "woke" end}
    """,
}


def test_inline_executor_runs_the_call_on_the_loop_in_a_fresh_context() -> None:
    async def body() -> None:
        loop = asyncio.get_running_loop()
        _MARK.set("the dispatch task's")
        seen: dict[str, Any] = {}

        def activation(x: int) -> int:
            seen["thread"] = threading.get_ident()
            seen["mark"] = _MARK.get()
            asyncio._set_running_loop(None)  # what the SDK's activation leaves behind
            return x + 1

        assert await loop.run_in_executor(InlineExecutor(), activation, 41) == 42
        assert seen == {"thread": threading.get_ident(), "mark": "unset"}
        assert asyncio.get_running_loop() is loop  # put back

        def fails() -> None:
            raise ValueError("boom")

        with pytest.raises(ValueError, match="boom"):
            await loop.run_in_executor(InlineExecutor(), fails)

    asyncio.run(body())


def _activity(tmp_path: Path, events: list[LifecycleEvent] | None = None) -> tuple[Any, Any]:
    app = App(registry=load_app(make_app(tmp_path, APP), env={}), log=None)
    if events is not None:
        app.lifecycle.subscribe(events.append)
    loop = asyncio.get_running_loop()
    fn = activity_function(app.runtime, app.catalog.workers["t:worker"], events=LoopEmitter(app.lifecycle, loop))
    return app, fn


def _env(start_to_close: float, heartbeat: float | None = 20.0) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        ActivityEnvironment.default_info(),
        activity_type="t:nap",
        task_queue="worker-loop",
        activity_id="3",
        start_to_close_timeout=timedelta(seconds=start_to_close),
        heartbeat_timeout=timedelta(seconds=heartbeat) if heartbeat is not None else None,
    )
    return env


def test_attempt_heartbeats_while_its_function_runs(tmp_path: Path) -> None:
    async def body() -> None:
        _app, fn = _activity(tmp_path)
        env = _env(30, heartbeat=0.15)  # a beat every 0.05 s
        beats: list[Any] = []
        env.on_heartbeat = lambda *details: beats.append(details)
        assert await env.run(fn, [RawValue(to_payload("300ms"))]) == "woke"
        assert beats  # and none after it ended:
        count = len(beats)
        await asyncio.sleep(0.2)
        assert len(beats) == count

    asyncio.run(body())


def test_attempt_past_its_bound_is_stopped_and_completes_nothing(tmp_path: Path) -> None:
    async def body() -> None:
        events: list[LifecycleEvent] = []
        _app, fn = _activity(tmp_path, events)
        env = _env(0.05)  # the bound: the server's timeout + 1 s of grace
        with pytest.raises(activity._CompleteAsyncError):
            await env.run(fn, [RawValue(to_payload("30s"))])
        await asyncio.sleep(0)  # the event is delivered by the loop
        # Reported as a timed-out attempt the retry policy runs again; it stopped after its
        # bound, not the 30 s it asked for (the test would wait for those otherwise).
        assert [e.kind for e in events] == ["activity.attempt", "activity.retry"]
        assert events[0].data["kind"] == "Timeout" and events[0].data["ok"] is False

    asyncio.run(body())


def test_a_cancel_from_the_server_is_not_taken_for_the_bound(tmp_path: Path) -> None:
    async def body() -> None:
        _app, fn = _activity(tmp_path)
        env = _env(30)
        task = asyncio.ensure_future(env.run(fn, [RawValue(to_payload("30s"))]))
        await asyncio.sleep(0.1)
        env.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(body())


def test_events_nobody_reads_are_not_made(tmp_path: Path) -> None:
    async def body() -> None:
        app, fn = _activity(tmp_path)
        made: list[LifecycleEvent] = []
        assert await _env(30).run(fn, [RawValue(to_payload("1ms"))]) == "woke"
        app.lifecycle.subscribe(made.append)
        assert await _env(30).run(fn, [RawValue(to_payload("1ms"))]) == "woke"
        await asyncio.sleep(0)
        assert [e.kind for e in made] == ["activity.attempt"]

    asyncio.run(body())


def test_json_payloads_round_trip_through_the_shared_codec() -> None:
    value = {"b": [1, 2.5, "ü", None, True], "a": {"nested": "x"}}
    payload = to_payload(value)
    assert payload.metadata["encoding"] == b"json/plain"
    assert payload.data == b'{"a":{"nested":"x"},"b":[1,2.5,"\\u00fc",null,true]}'  # canonical
    assert from_payload(payload) == value
    assert from_payload(to_payload(None)) is None  # binary/null, through the converter chain


@pytest.mark.temporal
def test_workflow_steps_run_on_the_workers_loop(temporal_server: DevServer, tmp_path: Path) -> None:
    """A step cannot hold the loop for long (the instruction budget), so it runs there: lupa
    frees the GIL on each call into Lua, and on the SDK's pool threads every call was a GIL
    hand-over between the pool and the loop."""
    threads: list[int] = []

    def log(source: str, text: str) -> None:
        if text == "step":
            threads.append(threading.get_ident())

    async def body() -> None:
        env = app_env(temporal_server)
        app = App(registry=load_app(make_app(tmp_path, APP), env=env), log=log)
        async with TemporalHost(app, env=env, notify=None) as host:
            assert host.engine is not None
            pid = await host.engine.start_workflow(StartRequest("t:hello", "t:worker", []))
            assert await asyncio.wait_for(host.engine.result(pid), 60) == (1, None)

    asyncio.run(body())
    assert threads and set(threads) == {threading.get_ident()}
