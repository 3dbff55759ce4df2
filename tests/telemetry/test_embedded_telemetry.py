"""Traces and metrics of the embedded engine, read back with the SDK's in-memory exporter and by
scraping ``/metrics`` over real HTTP."""

from __future__ import annotations

import asyncio
import urllib.request
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk", reason="the duralua[otel] extra is not installed")
pytest.importorskip("prometheus_client", reason="the duralua[otel] extra is not installed")

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from duralua import App
from duralua.telemetry import Telemetry, TelemetryConfig, load_config
from duralua.testing import WorkflowEnvironment

APP = Path(__file__).parent.parent / "ui" / "app"


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))


def traced() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def by_name(spans: tuple[ReadableSpan, ...], prefix: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name.startswith(prefix)]


def test_one_trace_spans_caller_workflow_child_and_activities(tmp_path: Path) -> None:
    provider, exporter = traced()
    tracer = provider.get_tracer("test")
    tel = Telemetry(tracer_provider=provider)

    async def body() -> None:
        app = App(APP, log=None)
        tel.attach(app.lifecycle)
        async with WorkflowEnvironment(app, db=tmp_path / "t.db") as env:
            with tracer.start_as_current_span("caller"):
                pid = await env.start("obs:parent", "obs:worker", "ada", workflow_id="p1")
                approval = await env.start("obs:approval", "obs:worker", 7, workflow_id="a1")
            await env.signal(approval, "approve", {"by": "bob"})
            await env.result(pid)
            await env.result(approval)

    try:
        run(body())
    finally:
        tel.close()
    spans = exporter.get_finished_spans()
    caller = by_name(spans, "caller")[0]
    parent = by_name(spans, "RunWorkflow:obs:parent")[0]
    child = by_name(spans, "RunWorkflow:obs:hello")[0]
    approval = by_name(spans, "RunWorkflow:obs:approval")[0]
    greets = by_name(spans, "RunActivity:obs:greet")
    signal = by_name(spans, "Signal:approve")[0]
    trace_id = caller.context.trace_id
    assert {s.context.trace_id for s in spans} == {trace_id}, "everything is in the caller's trace"
    assert parent.parent is not None and parent.parent.span_id == caller.context.span_id
    assert approval.parent is not None and approval.parent.span_id == caller.context.span_id
    assert child.parent is not None and child.parent.span_id == parent.context.span_id
    assert len(greets) == 3
    child_greets = [g for g in greets if g.parent is not None and g.parent.span_id == child.context.span_id]
    assert len(child_greets) == 2
    assert signal.parent is not None and signal.parent.span_id == approval.context.span_id
    assert child.attributes is not None and child.attributes["duralua.workflow_type"] == "obs:hello"
    assert parent.end_time is not None and child.end_time is not None and parent.end_time >= child.end_time


def test_failed_activity_attempts_are_error_spans_and_metrics(tmp_path: Path) -> None:
    provider, exporter = traced()
    tel = Telemetry(tracer_provider=provider, registry=None, config=TelemetryConfig(metrics=True))

    async def body() -> None:
        app = App(APP, log=None)
        tel.attach(app.lifecycle)
        async with WorkflowEnvironment(app, db=tmp_path / "t.db") as env:
            await env.start("obs:retrying", "obs:worker", 1, workflow_id="r1")
            for _ in range(50):
                await env.idle()
                if exporter.get_finished_spans():
                    break
                await asyncio.sleep(0.01)

    try:
        run(body())
        text = tel.metrics_text().decode()
    finally:
        tel.close()
    attempt = by_name(exporter.get_finished_spans(), "RunActivity:obs:flaky")[0]
    assert attempt.status.status_code.name == "ERROR" and "Unavailable" in (attempt.status.description or "")
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for fam in text_string_to_metric_families(text) for s in fam.samples}  # fmt: skip
    assert samples[("duralua_activity_attempts_total", (("activity_type", "obs:flaky"), ("outcome", "error")))] >= 1
    assert samples[("duralua_activity_retries_total", (("activity_type", "obs:flaky"),))] >= 1


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        assert resp.status == 200
        text = resp.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}  # fmt: skip


def test_metrics_endpoint_counters_move_as_workflows_run(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    tel = Telemetry(TelemetryConfig(metrics=True))
    tel.watch_database(db)
    _, port = tel.serve_metrics("127.0.0.1:0")
    hello = (("workflow_type", "obs:hello"),)

    async def body() -> tuple[Any, Any]:
        app = App(APP, log=None)
        tel.attach(app.lifecycle)
        async with WorkflowEnvironment(app, db=db) as env:
            await env.execute("obs:hello", "obs:worker", "a")
            first = await asyncio.to_thread(scrape, port)
            await env.execute("obs:hello", "obs:worker", "b")
            await env.start("obs:retrying", "obs:worker", 1)
            await env.idle()
            second = await asyncio.to_thread(scrape, port)
            return first, second

    try:
        first, second = run(body())
    finally:
        tel.close()
    assert first[("duralua_workflow_started_total", hello)] == 1
    assert first[("duralua_workflow_completed_total", hello)] == 1
    assert second[("duralua_workflow_completed_total", hello)] == 2
    assert second[("duralua_activity_attempts_total", (("activity_type", "obs:greet"), ("outcome", "ok")))] == 4
    assert second[("duralua_activity_attempt_duration_seconds_count", (("activity_type", "obs:greet"),))] == 4
    assert (
        second[("duralua_engine_commit_duration_seconds_count", ())]
        > first[("duralua_engine_commit_duration_seconds_count", ())]
    )
    assert second[("duralua_engine_cache_hits_total", ())] + second[("duralua_engine_cache_misses_total", ())] > 0
    assert second[("duralua_workflow_runs", (("status", "completed"),))] == 2
    assert second[("duralua_workflow_runs", (("status", "running"),))] == 1
    assert second[("duralua_activities_pending", ())] == 1
    assert second[("duralua_timers_pending", ())] == 0


def test_config_from_wippy_yaml_and_otel_environment(tmp_path: Path) -> None:
    (tmp_path / ".wippy.yaml").write_text(
        "otel:\n  enabled: true\n  endpoint: localhost:4318\n  service_name: shop\n  sample_rate: 0.5\n"
        "prometheus:\n  enabled: true\n  address: ':9099'\n"
    )
    cfg = load_config(tmp_path, {})
    assert (cfg.tracing, cfg.endpoint, cfg.service_name, cfg.sample_rate) == (True, "localhost:4318", "shop", 0.5)
    assert (cfg.metrics, cfg.metrics_address) == (True, ":9099")
    env = {"OTEL_SERVICE_NAME": "other", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
           "OTEL_TRACES_EXPORTER": "console", "DURALUA_PROMETHEUS": "false"}  # fmt: skip
    cfg = load_config(tmp_path, env)
    assert (cfg.service_name, cfg.endpoint, cfg.exporter, cfg.metrics) == ("other", None, "console", False)
    assert load_config(tmp_path, {"OTEL_SDK_DISABLED": "true"}).tracing is False
    assert load_config(None, {}).enabled is False
