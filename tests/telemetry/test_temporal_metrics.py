"""On Temporal: the Prometheus ``/metrics`` page carries the run and activity families of the
embedded engine, fed by the worker through the app's lifecycle stream, and leaves out the
embedded engine's own (group commit, live-state cache, database gauges). The worker runs
without a workflow cache, so every workflow task replays the run's history: a counter that
moved on replay would count a run several times."""

from __future__ import annotations

import asyncio
import gc
import time
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("prometheus_client", reason="the duralua[otel] extra is not installed")

from prometheus_client.parser import text_string_to_metric_families

from duralua import App, gcpolicy
from duralua.engine import StartRequest
from duralua.registry import load_app
from duralua.telemetry import Telemetry, TelemetryConfig
from duralua.temporal import worker as temporal_worker
from duralua.temporal.devserver import DevServer
from duralua.temporal.worker import TemporalHost

from ..temporal.harness import app_env, dev_server

pytestmark = pytest.mark.temporal
APP = Path(__file__).parent.parent / "ui" / "app"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture(scope="session")
def temporal_server(request: pytest.FixtureRequest) -> DevServer:
    return dev_server(request.config)


def scrape(port: int) -> tuple[Samples, set[str]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        assert resp.status == 200
        text = resp.read().decode()
    families = list(text_string_to_metric_families(text))
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for fam in families for s in fam.samples}
    return samples, {fam.name for fam in families}


async def scrape_until(port: int, ready: Callable[[Samples], bool], timeout: float = 20.0) -> Samples:
    """Scrape until ``ready``: events reach the stream on the worker's loop, a moment after the
    server has the outcome the client awaited."""
    deadline = time.monotonic() + timeout
    while True:
        samples, _ = await asyncio.to_thread(scrape, port)
        if ready(samples) or time.monotonic() > deadline:
            return samples
        await asyncio.sleep(0.1)


def uncached(worker_kwargs: Callable[..., tuple[dict[str, Any], list[str]]]) -> Callable[..., Any]:
    def kwargs(entry_id: str, data: Mapping[str, Any], env: Mapping[str, str] | None = None) -> Any:
        found, notes = worker_kwargs(entry_id, data, env)
        return {**found, "max_cached_workflows": 0}, notes

    return kwargs


def test_metrics_page_on_temporal_counts_runs_and_attempts_once(
    temporal_server: DevServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(temporal_worker, "worker_kwargs", uncached(temporal_worker.worker_kwargs))
    tel = Telemetry(TelemetryConfig(metrics=True))
    _, port = tel.serve_metrics("127.0.0.1:0")
    hello = (("workflow_type", "obs:hello"),)
    approval = (("workflow_type", "obs:approval"),)
    greet_ok = ("duralua_activity_attempts_total", (("activity_type", "obs:greet"), ("outcome", "ok")))
    flaky = (("activity_type", "obs:flaky"),)

    async def body() -> tuple[Samples, Samples, set[str]]:
        env = app_env(temporal_server)
        app = App(registry=load_app(APP, env=env), log=None)
        tel.attach(app.lifecycle)
        defaults = gc.get_threshold() == gcpolicy.PYTHON_DEFAULT
        async with TemporalHost(app, env=env, notify=None) as host:
            # Workers serve under the engine's collector thresholds too (duralua.gcpolicy).
            assert gc.get_threshold() == gcpolicy.TUNED or not defaults
            engine = host.engine
            assert engine is not None
            pid = await engine.start_workflow(StartRequest("obs:hello", "obs:worker", ["a"]))
            assert (await engine.result(pid))[1] is None
            first = await scrape_until(port, lambda s: s.get(("duralua_workflow_completed_total", hello)) == 1)

            pids = [await engine.start_workflow(StartRequest("obs:hello", "obs:worker", ["b"]))]
            yes = await engine.start_workflow(StartRequest("obs:approval", "obs:worker", [1]))
            no = await engine.start_workflow(StartRequest("obs:approval", "obs:worker", [2]))
            retrying = await engine.start_workflow(StartRequest("obs:retrying", "obs:worker", [3]))
            await engine.signal(yes, "approve", [{"by": "bob"}])
            await engine.signal(no, "reject", [])
            outcomes = [await engine.result(p) for p in (*pids, yes, no)]
            assert [failure is None for _, failure in outcomes] == [True, True, False]
            assert outcomes[2][1] is not None and outcomes[2][1].kind == "Invalid"
            second = await scrape_until(port, lambda s: s.get(("duralua_activity_retries_total", flaky), 0) >= 1
                                        and s.get(("duralua_workflow_failed_total", approval)) == 1)  # fmt: skip
            await engine.terminate(retrying, "the test is done")
            _, names = await asyncio.to_thread(scrape, port)
        assert gc.get_threshold() == gcpolicy.PYTHON_DEFAULT or not defaults
        return first, second, names

    try:
        first, second, names = asyncio.run(asyncio.wait_for(body(), 120))
    finally:
        tel.close()

    assert first[("duralua_workflow_started_total", hello)] == 1
    assert first[greet_ok] == 2
    # Replayed tasks re-run the start, the activities' results and the signals: counted once.
    assert second[("duralua_workflow_started_total", hello)] == 2
    assert second[("duralua_workflow_completed_total", hello)] == 2
    assert second[("duralua_workflow_closed_total", (("status", "completed"), *hello))] == 2
    assert second[("duralua_workflow_duration_seconds_count", hello)] == 2
    assert second[("duralua_workflow_duration_seconds_sum", hello)] >= 2.0  # each sleeps 1 s
    assert second[("duralua_workflow_started_total", approval)] == 2
    assert second[("duralua_workflow_completed_total", approval)] == 1
    assert second[("duralua_workflow_closed_total", (("status", "failed"), *approval))] == 1
    assert second[("duralua_workflow_signals_total", approval)] == 2
    assert second[greet_ok] == 5  # two per hello, one for the approval
    assert second[("duralua_activity_attempt_duration_seconds_count", (("activity_type", "obs:greet"),))] == 5
    assert second[("duralua_activity_attempts_total", (*flaky, ("outcome", "error")))] == 1
    assert second[("duralua_activity_retries_total", flaky)] == 1  # the next attempt is an hour away
    assert ("duralua_activity_failures_total", flaky) not in second
    # The embedded engine's own families have nothing to say about Temporal.
    assert {"duralua_engine_commit_duration_seconds", "duralua_engine_cache_hits", "duralua_timers_pending",
            "duralua_workflow_runs"}.isdisjoint(names)  # fmt: skip
    assert {"duralua_workflow_started", "duralua_activity_attempts"} <= names


def test_a_signal_in_the_runs_first_task_is_counted(temporal_server: DevServer) -> None:
    """Started and signalled while no worker polls, the run's first task carries the signal:
    the SDK hands it to the signal handler before the run has begun."""
    tel = Telemetry(TelemetryConfig(metrics=True))
    _, port = tel.serve_metrics("127.0.0.1:0")
    approval = (("workflow_type", "obs:approval"),)

    async def body() -> Samples:
        env = app_env(temporal_server)
        app = App(registry=load_app(APP, env=env), log=None)
        tel.attach(app.lifecycle)
        async with TemporalHost(app, env=env, notify=None, workers=[]) as client_only:
            engine = client_only.engine
            assert engine is not None
            pid = await engine.start_workflow(StartRequest("obs:approval", "obs:worker", [7]))
            await engine.signal(pid, "approve", [{"by": "early"}])
        async with TemporalHost(app, env=env, notify=None) as host:
            assert host.engine is not None
            assert (await host.engine.result(pid))[1] is None
            return await scrape_until(port, lambda s: s.get(("duralua_workflow_completed_total", approval)) == 1)

    try:
        samples = asyncio.run(asyncio.wait_for(body(), 120))
    finally:
        tel.close()
    assert samples[("duralua_workflow_started_total", approval)] == 1
    assert samples[("duralua_workflow_signals_total", approval)] == 1
