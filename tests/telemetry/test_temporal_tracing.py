"""On Temporal: one trace from the caller through the workflow to its activities, made by
temporalio's tracing interceptor that duralua's clients (and so their workers) add when
telemetry traces. Read back with the SDK's in-memory exporter."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk", reason="the duralua[otel] extra is not installed")

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from duralua import App
from duralua.engine import StartRequest
from duralua.registry import load_app
from duralua.telemetry import Telemetry
from duralua.temporal.devserver import DevServer
from duralua.temporal.worker import TemporalHost

from ..temporal.harness import app_env, dev_server

pytestmark = pytest.mark.temporal
APP = Path(__file__).parent.parent / "ui" / "app"


@pytest.fixture(scope="session")
def temporal_server(request: pytest.FixtureRequest) -> DevServer:
    return dev_server(request.config)


def test_caller_workflow_and_activities_share_one_trace(temporal_server: DevServer) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    tel = Telemetry(tracer_provider=provider).install()

    async def body() -> Any:
        app = App(registry=load_app(APP, env=app_env(temporal_server)), log=None)
        async with TemporalHost(app, env=app_env(temporal_server), notify=None) as host:
            assert host.engine is not None
            with tracer.start_as_current_span("caller"):
                pid = await host.engine.start_workflow(StartRequest("obs:hello", "obs:worker", ["ada"]))
            return await host.engine.result(pid)

    try:
        value, failure = asyncio.run(asyncio.wait_for(body(), 90))
    finally:
        tel.close()
    assert failure is None and value == {"greeting": "hello hello ada"}
    spans = exporter.get_finished_spans()
    by_name: dict[str, list[Any]] = {}
    for span in spans:
        by_name.setdefault(span.name, []).append(span)
    caller = by_name["caller"][0]
    start = by_name["StartWorkflow:obs:hello"][0]
    activities = by_name["RunActivity:obs:greet"]
    assert {s.context.trace_id for s in spans} == {caller.context.trace_id}
    # temporalio's shape: the workflow's spans (each task's RunWorkflow, StartActivity,
    # CompleteWorkflow) hang under the client's StartWorkflow, which hangs under the caller.
    assert start.parent.span_id == caller.context.span_id
    for name in ("RunWorkflow:obs:hello", "CompleteWorkflow:obs:hello", "StartActivity:obs:greet"):
        assert by_name[name] and all(s.parent.span_id == start.context.span_id for s in by_name[name]), name
    assert len(activities) == 2
    starts = {s.context.span_id for s in by_name["StartActivity:obs:greet"]}
    assert all(a.parent.span_id in starts for a in activities)
