"""The Temporal backend against a real dev server: what the conformance suite cannot show.

Each test serves the small app in ``apps/tapp`` with a :class:`TemporalHost` in its own event
loop (workers start and stop in milliseconds); the kill test runs ``duralua run --engine
temporal`` in subprocesses and SIGKILLs one.
"""

from __future__ import annotations

import asyncio
import functools
import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from temporalio.api.enums.v1 import PendingActivityState, TimeoutType

from duralua import App
from duralua.engine import StartRequest
from duralua.errors import CallError
from duralua.registry import load_app
from duralua.temporal.devserver import DevServer
from duralua.temporal.engine import TemporalEngine
from duralua.temporal.replay import replay_temporal_history
from duralua.temporal.worker import TemporalHost, connect_engine

from .harness import app_env

pytestmark = pytest.mark.temporal

TAPP = Path(__file__).parent / "apps" / "tapp"
WORKER = "t:worker"
CLI = "from duralua.cli.main import main; main()"
T = TypeVar("T")


def run(body: Callable[[], Coroutine[Any, Any, T]], timeout: float = 90) -> T:
    async def main() -> T:
        return await asyncio.wait_for(body(), timeout)

    return asyncio.run(main())


def load(server: DevServer, app_dir: Path = TAPP) -> App:
    return App(registry=load_app(app_dir, env=app_env(server)), log=None)


@asynccontextmanager
async def served(server: DevServer, app_dir: Path = TAPP) -> AsyncIterator[tuple[App, TemporalEngine]]:
    app = load(server, app_dir)

    @app.function("t:py_upper", worker=WORKER)
    def py_upper(text: str) -> str:  # a Python function entry as an activity
        return text.upper()

    # Registering what the workflows set is off: these tests check how unregistered names are
    # refused (the conformance suite covers registration on the dev server).
    async with TemporalHost(app, env=app_env(server), notify=None, register_search_attributes=False) as host:
        assert host.engine is not None
        yield app, host.engine


def start(engine: TemporalEngine, workflow: str, *args: Any, **kw: Any) -> Coroutine[Any, Any, str]:
    return engine.start_workflow(StartRequest(workflow, WORKER, list(args), **kw))


async def wait_until(predicate: Callable[[], Coroutine[Any, Any, bool]], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def history_json(server: DevServer, workflow_id: str) -> dict[str, Any]:
    out = server.cli("workflow", "show", "--workflow-id", workflow_id, "--output", "json").stdout
    data: dict[str, Any] = json.loads(out)
    return data


# ---------------------------------------------------------------------------------------------


def test_context_reaches_activities_and_workflows_reply_to_processes(temporal_server: DevServer) -> None:
    async def body() -> tuple[Any, Any]:
        async with served(temporal_server) as (app, engine):
            pid = await start(engine, "t:context", context={"user": "ann"})
            ctx = await engine.result(pid)
            asked = await app.acall("t:asker")
            return ctx, asked

    (ctx, failure), asked = run(body)
    assert failure is None, failure
    assert ctx == {"workflow": "ann", "activity": "ann", "local_activity": "ann", "python": "ANN"}
    # process.send from the workflow to the calling function (a non-workflow PID).
    assert asked["topic"] == "reply" and asked["from_workflow"] is True
    assert asked["data"]["hello"] == "from workflow" and asked["data"]["me"].startswith("{t:client@t:worker|")


def test_workflows_signal_and_cancel_other_workflows_and_continue_as_new(temporal_server: DevServer) -> None:
    async def body() -> dict[str, Any]:
        async with served(temporal_server) as (_app, engine):
            counter = await start(engine, "t:counter", workflow_id="ext-counter")
            victim = await start(engine, "t:cancellable", workflow_id="ext-victim")
            pinger = await start(engine, "t:pinger", counter, victim, workflow_id="ext-pinger")
            upgraded = await start(
                engine,
                "t:ctx_upgrade",
                True,
                workflow_id="ext-upgrade",
                context={"user": "bob"},
                options={"search_attributes": {"DuraluaTestTag": "started"}, "memo": {"m": 1}},
            )
            # 30 signals at once to a run that continues as new after every 5 it reads.
            batcher = await start(engine, "t:batcher", {"target": 30}, workflow_id="ext-batcher")
            await asyncio.gather(*(engine.signal(batcher, "n", [i], sender=BATCH_SENDER) for i in range(30)))
            return {
                "batcher": await engine.result(batcher),
                "batcher_arrivals": await _signal_arrivals(engine, batcher),
                "pinger": await engine.result(pinger),
                "counter": await engine.result(counter),
                "victim": await engine.result(victim),
                "upgraded": (upgraded, await engine.result(upgraded)),
                "upgraded_summary": await engine.describe(upgraded),
            }

    out = run(body)
    pinger, failure = out["pinger"]
    assert failure is None, failure
    assert pinger["sent"] and pinger["canceled"] and pinger["missing_kind"] == "NotFound"
    assert out["counter"] == ({"count": 2, "senders": [pinger["me"]]}, None)
    assert out["victim"] == ({"kind": "pid.cancel", "from": "{|topology}"}, None)
    pid, (value, failure) = out["upgraded"]
    assert failure is None, failure
    assert value["user"] == "bob" and value["pid"] == pid
    summary = out["upgraded_summary"]
    assert summary.run_id == value["run_id"] and summary.search["DuraluaTestTag"] == "started"
    assert summary.memo == {"m": 1}
    # Every signal was read exactly once, in the order the server accepted them (across runs):
    # each run handed the messages it had not read to the next one.
    batch, failure = out["batcher"]
    assert failure is None, failure
    assert sorted(m["data"] for m in batch["seen"]) == list(range(30))
    assert [m["data"] for m in batch["seen"]] == out["batcher_arrivals"]
    assert {m["from"] for m in batch["seen"]} == {BATCH_SENDER} and batch["runs"] == 6


BATCH_SENDER = "{local@t:tester|0x00003}"


async def _signal_arrivals(engine: TemporalEngine, pid: str) -> list[Any]:
    """The payloads of every signal the workflow's runs got, oldest run first."""
    client, workflow_id = engine._target(pid)
    runs: list[list[Any]] = []
    run_id: str | None = None
    while True:
        events = [e async for e in client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history_events()]
        runs.insert(
            0,
            [
                json.loads(e.workflow_execution_signaled_event_attributes.input.payloads[0].data)
                for e in events
                if e.HasField("workflow_execution_signaled_event_attributes")
            ],
        )
        run_id = events[0].workflow_execution_started_event_attributes.continued_execution_run_id
        if not run_id:
            return [value for signals in runs for value in signals]


def test_startup_messages_and_id_conflict_policies(temporal_server: DevServer) -> None:
    sender = "{local@t:tester|0x00001}"

    async def body() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with served(temporal_server) as (_app, engine):
            # use_existing (the default with a chosen id): the second start joins the first run.
            first = await start(
                engine,
                "t:counter",
                {"initial": 0},
                workflow_id="ctr-1",
                messages=[("increment", [4])],
                sender=sender,
            )
            second = await start(
                engine, "t:counter", {"initial": 999}, workflow_id="ctr-1", messages=[("increment", [1])]
            )
            out["same_pid"] = first == second
            await engine.signal(first, "finish", [])
            out["joined"] = await engine.result(first)
            # fail: an error while the run is running, nothing delivered.
            fail_opts = {"id_conflict_policy": "fail"}
            pid = await start(engine, "t:counter", workflow_id="ctr-2", options=fail_opts)
            try:
                await start(engine, "t:counter", workflow_id="ctr-2", options=fail_opts, messages=[("increment", [1])])
            except CallError as exc:
                out["fail_kind"] = exc.failure.kind
            await engine.signal(pid, "finish", [])
            out["not_delivered"] = await engine.result(pid)
            # terminate_existing: a new run with the new input gets the messages.
            await start(engine, "t:counter", {"initial": 100}, workflow_id="ctr-3")
            pid = await start(
                engine,
                "t:counter",
                {"initial": 7},
                workflow_id="ctr-3",
                options={"id_conflict_policy": "terminate_existing"},
                messages=[("increment", [1]), ("finish", [])],
            )
            out["replaced"] = await engine.result(pid)
            out["describe"] = (await engine.describe(pid)).status
            # A generated id: the Wippy format <uuid>_0x00001.
            out["generated"] = await start(engine, "t:counter")
            await engine.terminate(out["generated"], "test over")
            out["terminated"] = await engine.result(out["generated"])
        return out

    out = run(body)
    assert out["same_pid"] is True
    assert out["joined"] == ({"count": 5, "senders": [sender, ""]}, None)
    assert out["fail_kind"] == "AlreadyExists"
    assert out["not_delivered"] == ({"count": 0, "senders": []}, None)
    assert out["replaced"] == ({"count": 8, "senders": [""]}, None)
    assert out["describe"] == "completed"
    gen = out["generated"]
    assert gen.startswith("{t:client@t:worker|") and gen.endswith("_0x00001}")
    value, failure = out["terminated"]
    assert value is None and failure is not None
    assert (failure.kind, failure.message, failure.retryable) == ("Canceled", "workflow terminated", False)


def test_unregistered_search_attribute_is_a_catchable_error(temporal_server: DevServer) -> None:
    async def body() -> tuple[Any, Any]:
        async with served(temporal_server) as (_app, engine):
            pid = await start(engine, "t:attrs", workflow_id="attrs-1")
            outcome = await engine.result(pid)

            async def listed() -> bool:  # visibility is updated asynchronously
                runs = await engine.list_runs(status="completed", query={"DuraluaTestTag": "tagged"})
                return [r.workflow_id for r in runs] == ["attrs-1"]

            await wait_until(listed, "the run in the visibility list")
            return outcome, (await engine.describe(pid), ["attrs-1"])

    (value, failure), (summary, listed) = run(body)
    assert failure is None, failure
    assert "ok" not in value and value["kind"] == "Invalid" and "DuraluaNotRegistered" in value["message"]
    assert value["wrong_type_kind"] == "Invalid"
    assert value["ok3"] is True and value["after"] == "done:after"
    # DuraluaTestTag was registered at worker start (meta.search_attributes of t:worker).
    assert summary.status == "completed"
    assert summary.search["DuraluaTestTag"] == "tagged" and summary.search["CustomIntField"] == 7
    assert summary.memo == {"note": "m"}
    assert "attrs-1" in listed


def test_temporal_cli_signals_describes_and_exports_a_replayable_history(temporal_server: DevServer) -> None:
    server = temporal_server

    async def body() -> tuple[Any, str, str]:
        async with served(server) as (_app, engine):
            pid = await start(engine, "t:waiter", "x", workflow_id="cli-waiter")
            await wait_until(lambda: _started(engine, pid), "the first workflow task")
            query = await asyncio.to_thread(
                server.cli, "workflow", "query", "--workflow-id", "cli-waiter", "--type", "pid"
            )
            # The engine refuses reserved topics, but a Temporal client can still send them:
            # the workflow drops them instead of taking one for its activity's result.
            for name in ("@future/1", "@future/2", "@future/3"):
                forged = ["workflow", "signal", "--workflow-id", "cli-waiter", "--name", name, "--input", '"forged"']
                await asyncio.to_thread(server.cli, *forged)
            with pytest.raises(CallError, match="reserved") as refused:
                await engine.signal(pid, "@future/1", ["forged"])
            assert refused.value.failure.kind == "Invalid"
            await asyncio.to_thread(
                server.cli,
                "workflow",
                "signal",
                "--workflow-id",
                "cli-waiter",
                "--name",
                "approve",
                "--input",
                '{"ok": true}',
            )
            outcome = await engine.result(pid)
            described = await asyncio.to_thread(server.cli, "workflow", "describe", "--workflow-id", "cli-waiter")
            return outcome, query.stdout, described.stdout

    (value, failure), query, described = run(body)
    assert failure is None, failure
    assert value == {"topic": "approve", "from": "", "data": {"ok": True}, "step": "done:x"}
    assert "cli-waiter" in query
    assert "t:waiter" in described and "COMPLETED" in described.upper()
    ok, message = replay_temporal_history(load(server), history_json(server, "cli-waiter"))
    assert ok, message


def _reordered_app(tmp_path: Path) -> Path:
    """tapp with the two activities of t:ordered swapped: a change that breaks runs in flight."""
    v2 = tmp_path / "tapp_v2"
    shutil.copytree(TAPP, v2)
    src = v2 / "src" / "ordered.lua"
    text = src.read_text()
    text = text.replace('funcs.call("t:first", "a")', "@@").replace(
        'funcs.call("t:second", "b")', 'funcs.call("t:first", "a")'
    )
    src.write_text(text.replace("@@", 'funcs.call("t:second", "b")'))
    return v2


def test_reordered_activities_hold_the_run_and_fail_replay(temporal_server: DevServer, tmp_path: Path) -> None:
    server = temporal_server
    v2 = _reordered_app(tmp_path)

    async def body() -> tuple[Any, Any]:
        async with served(server) as (_app, engine):
            pid = await start(engine, "t:ordered", workflow_id="nd-1")
            await wait_until(lambda: _activity_done(engine, pid), "the first activity")
        async with served(server, v2) as (_app, engine):
            await engine.signal(pid, "go", [])

            async def held() -> bool:
                return (await engine.describe(pid)).status == "held"

            await wait_until(held, "the run to be held by the non-determinism")
            summary = await engine.describe(pid)
        async with served(server) as (_app, engine):
            # The old code is back: the run continues where it stopped.
            fixed = await engine.result(pid)
        return summary, fixed

    summary, fixed = run(body, timeout=120)
    assert summary.status == "held"
    assert "nondetermin" in summary.reason.lower().replace("-", ""), summary.reason
    assert fixed == (["done:a", "go", "done:b"], None)
    data = history_json(server, "nd-1")
    assert replay_temporal_history(load(server), data) == (True, "replayed cleanly")
    ok, message = replay_temporal_history(load(server, v2), data)
    assert not ok and "nondetermin" in message.lower().replace("-", ""), message
    # The same through the CLI (exit status 1 on non-determinism, for CI).
    history = tmp_path / "nd-1.json"
    history.write_text(json.dumps(data))
    for app_dir, code in ((TAPP, 0), (v2, 1)):
        cli = subprocess.run(
            [
                sys.executable,
                "-c",
                CLI,
                "workflow",
                "replay",
                "--file",
                str(history),
                "--dir",
                str(app_dir),
                "--json",
            ],
            capture_output=True,
            text=True,
            env=app_env(server),
            timeout=60,
        )
        assert cli.returncode == code, cli.stderr
        assert json.loads(cli.stdout)[0]["ok"] is (code == 0)


async def _activity_done(engine: TemporalEngine, pid: str) -> bool:
    client, workflow_id = engine._target(pid)
    events = [e async for e in client.get_workflow_handle(workflow_id).fetch_history_events()]
    return any(e.HasField("activity_task_completed_event_attributes") for e in events)


VERSIONS = {
    # v1: before the change (no version call).
    1: 'local v = 0\n  local r = funcs.call("t:step", "old")',
    # v2: the change gated by workflow.version; -1 (no marker) keeps the old path.
    2: 'local v = workflow.version("c", -1, 1)\n  local r = funcs.call("t:step", v == -1 and "old" or "new")',
    # v3: drops support for histories from before the change.
    3: 'local v = workflow.version("c", 1, 1)\n  local r = funcs.call("t:step", "new")',
    # v4: a second change on top of the first.
    4: 'local v = workflow.version("c", 1, 2)\n  local r = funcs.call("t:step", v == 1 and "new" or "newer")',
}


def _versioned_app(tmp_path: Path, version: int) -> Path:
    app_dir = tmp_path / f"tapp_v{version}"
    shutil.copytree(TAPP, app_dir)
    src = app_dir / "src" / "versioned.lua"
    src.write_text(src.read_text().replace(VERSIONS[1], VERSIONS[version]))
    return app_dir


def test_workflow_version_maps_to_patches(temporal_server: DevServer, tmp_path: Path) -> None:
    server = temporal_server
    apps = {n: _versioned_app(tmp_path, n) if n > 1 else TAPP for n in VERSIONS}

    async def body() -> dict[int, Any]:
        out = {}
        for n in (1, 2, 4):
            async with served(server, apps[n]) as (_app, engine):
                out[n] = await engine.result(await start(engine, "t:versioned", workflow_id=f"ver-{n}"))
        return out

    results = run(body)
    assert results == {
        1: ({"v": 0, "r": "done:old"}, None),
        2: ({"v": 1, "r": "done:new"}, None),
        4: ({"v": 2, "r": "done:newer"}, None),
    }

    def replays(history: int, code: int) -> bool:
        ok, message = replay_temporal_history(load(server, apps[code]), history_json(server, f"ver-{history}"))
        assert ok or "version" in message, message
        return ok

    # A history from before the change replays on v2 (version -1) but not on v3 (min 1).
    assert replays(1, 2) and not replays(1, 3)
    # A history recorded with version 1 replays on every code that still supports 1.
    assert replays(2, 2) and replays(2, 3) and replays(2, 4)
    # A history recorded with version 2 needs code that knows version 2.
    assert replays(4, 4) and not replays(4, 3)


# ---------------------------------------------------------------------------------------------
# A worker killed with SIGKILL
# ---------------------------------------------------------------------------------------------

# ``duralua run --engine temporal`` plus a synchronous Python activity (the CLI loads none).
WORKER_SCRIPT = """
import asyncio, sys, time
from duralua import App
from duralua.temporal.serve import serve_temporal

app = App(sys.argv[1])

@app.function("t:py_nap", worker="t:worker")
def py_nap(tag, seconds):
    time.sleep(seconds)  # blocking on purpose: it must not stop the heartbeats
    return "slept:" + tag

asyncio.run(serve_temporal(app))
"""
NAP_SECONDS = 4


def _worker(server: DevServer) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-c", WORKER_SCRIPT, str(TAPP)]
    return subprocess.Popen(cmd, env=app_env(server), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_serving(proc: subprocess.Popen[str]) -> None:
    assert proc.stderr is not None
    deadline = time.monotonic() + 30
    for line in proc.stderr:
        if "serving on Temporal" in line:
            return
        if time.monotonic() > deadline:
            break
    raise AssertionError(f"the worker did not start (exit code {proc.poll()})")


def test_killed_worker_is_replaced_and_every_run_completes(temporal_server: DevServer) -> None:
    """Runs waiting on timers and signals survive a SIGKILL of their worker, and activities
    that were running on it are retried soon: the heartbeat timeout (2 s given, 20 s by
    default) notices the dead worker instead of the 10-minute start-to-close timeout."""
    server = temporal_server
    first = _worker(server)
    second: subprocess.Popen[str] | None = None
    try:
        _wait_serving(first)

        async def begin() -> list[str]:
            app = load(server)
            engine = await connect_engine(app, app_env(server))
            pids = [await start(engine, "t:sleeper", i, "3s", workflow_id=f"kill-sleep-{i}") for i in range(5)]
            pids += [await start(engine, "t:waiter", f"w{i}", workflow_id=f"kill-wait-{i}") for i in range(5)]
            pids.append(await start(engine, "t:napper", NAP_SECONDS, "2s", workflow_id="kill-nap-short"))
            pids.append(await start(engine, "t:napper", NAP_SECONDS, workflow_id="kill-nap-default"))
            # Every run has done its first workflow task on the first worker before it dies,
            # and every nap activity is running there.
            for pid in pids:
                await wait_until(functools.partial(_started, engine, pid), "the first workflow task")
            for pid in pids[-2:]:
                await wait_until(functools.partial(_naps_running, engine, pid), "both nap activities to run")
            return pids

        pids = run(begin)
        first.send_signal(signal.SIGKILL)
        killed_ns = time.time_ns()
        first.wait()
        second = _worker(server)
        _wait_serving(second)

        async def finish() -> tuple[list[Any], list[float], list[list[tuple[int, float, str]]]]:
            app = load(server)
            engine = await connect_engine(app, app_env(server))
            for i in range(5):
                await engine.signal(f"kill-wait-{i}", "go", [i], sender="{local@t:tester|0x00002}")
            outcomes = [await engine.result(pid) for pid in pids]
            stalls = []
            for pid in pids[-2:]:
                closed = (await engine.describe(pid)).close_time_ns
                assert closed is not None
                stalls.append((closed - killed_ns) / 1e9)
            return outcomes, stalls, [await _nap_attempts(engine, pid) for pid in pids[-2:]]

        outcomes, stalls, attempts = run(finish, timeout=150)
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if proc is not None:
                for stream in (proc.stdout, proc.stderr):
                    if stream is not None:
                        stream.close()
    assert outcomes[:5] == [({"n": i, "step": f"done:{i}"}, None) for i in range(5)]
    assert outcomes[5:10] == [
        ({"topic": "go", "from": "{local@t:tester|0x00002}", "data": i, "step": f"done:w{i}"}, None) for i in range(5)
    ]
    assert outcomes[10:] == [(["slept:lua", "slept:py"], None)] * 2
    # Each nap ran twice: the first attempt died with the worker, and the server gave up on it
    # because its heartbeats stopped (not because its start-to-close timeout expired).
    assert attempts == [[(2, 2.0, "HEARTBEAT")] * 2, [(2, 20.0, "HEARTBEAT")] * 2]
    # Far below the 600 s the runs used to stall for (the bound only tells the two apart).
    assert stalls[0] < 60 and stalls[1] < 120, stalls
    assert second is not None and second.returncode == 0, "the replacement worker did not stop cleanly"


async def _started(engine: TemporalEngine, pid: str) -> bool:
    client, workflow_id = engine._target(pid)
    events = [e async for e in client.get_workflow_handle(workflow_id).fetch_history_events()]
    return any(e.HasField("workflow_task_completed_event_attributes") for e in events)


async def _naps_running(engine: TemporalEngine, pid: str) -> bool:
    client, workflow_id = engine._target(pid)
    desc = await client.get_workflow_handle(workflow_id).describe()
    pending = desc.raw_description.pending_activities
    return len(pending) == 2 and all(a.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED for a in pending)


async def _nap_attempts(engine: TemporalEngine, pid: str) -> list[tuple[int, float, str]]:
    """(attempt, heartbeat timeout in s, why the previous attempt failed) of each activity."""
    client, workflow_id = engine._target(pid)
    events = [e async for e in client.get_workflow_handle(workflow_id).fetch_history_events()]
    scheduled = {
        e.event_id: e.activity_task_scheduled_event_attributes.heartbeat_timeout.ToTimedelta().total_seconds()
        for e in events
        if e.HasField("activity_task_scheduled_event_attributes")
    }
    out = []
    for e in events:
        if e.HasField("activity_task_started_event_attributes"):
            started = e.activity_task_started_event_attributes
            why = TimeoutType.Name(started.last_failure.timeout_failure_info.timeout_type).removeprefix("TIMEOUT_TYPE_")
            out.append((started.attempt, scheduled[started.scheduled_event_id], why))
    return out
