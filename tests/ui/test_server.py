"""The UI server over real HTTP (no browser): actions queued to the engine that serves the
database, read-only mode, the form token and origin checks, the event stream, /metrics."""

from __future__ import annotations

import asyncio
import re
import socket
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from duralua import App
from duralua.testing import WorkflowEnvironment
from duralua.ui import start_ui

APP = Path(__file__).parent / "app"


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))


def form_of(client: httpx.Client, workflow_id: str) -> tuple[str, str]:
    page = client.get("/workflows/" + urllib.parse.quote(workflow_id, safe=""), follow_redirects=True)
    assert page.status_code == 200, page.text
    token = re.search(r'name="token" value="([^"]+)"', page.text)
    run_id = re.search(r'data-run-id="([^"]+)"', page.text)
    assert token and run_id
    return token[1], run_id[1]


def test_queued_signal_reaches_the_serving_engine_and_the_stream_tells(tmp_path: Path) -> None:
    """`duralua ui --db` next to an engine that serves the database (here in this process)."""
    db = tmp_path / "q.db"

    async def body() -> tuple[Any, ...]:
        async with WorkflowEnvironment(App(APP, log=None), db=db, time_skipping=False) as env:
            env.engine.poll_interval = 0.02
            pid = await env.start("obs:approval", "obs:worker", 5, workflow_id="q1")
            server = start_ui("127.0.0.1:0", db)  # no bus, no engine: queued actions, polling stream
            try:

                def act() -> tuple[Any, ...]:
                    with httpx.Client(base_url=server.url, timeout=10) as c:
                        token, run_id = form_of(c, "q1")
                        base = {"token": token, "topic": "approve", "payload": '{"by": "queue"}'}
                        confirm = c.post(f"/runs/{run_id}/signal", data=base)
                        bad = c.post(f"/runs/{run_id}/signal", data={**base, "token": "nope", "confirmed": "1"})
                        cross = c.post(f"/runs/{run_id}/signal", data={**base, "confirmed": "1"},
                                       headers={"Origin": "http://evil.example"})  # fmt: skip
                        done = c.post(f"/runs/{run_id}/signal", data={**base, "confirmed": "1"})
                        return confirm, bad, cross, done

                confirm, bad, cross, done = await asyncio.to_thread(act)
                result = await env.result(pid)
            finally:
                server.stop()
            return confirm, bad, cross, done, result

    confirm, bad, cross, done, result = run(body())
    assert confirm.status_code == 200 and "Yes, signal" in confirm.text and "q1" in confirm.text
    assert bad.status_code == 403 and cross.status_code == 403
    assert done.status_code == 303 and "signal+approve+sent" in done.headers["location"]
    assert result["by"] == "queue"


def test_read_only_refuses_bad_json_is_explained_and_metrics_and_events(tmp_path: Path) -> None:
    pytest.importorskip("prometheus_client", reason="the duralua[otel] extra is not installed")
    from duralua.telemetry import Telemetry, TelemetryConfig

    db = tmp_path / "r.db"

    async def fill() -> None:
        async with WorkflowEnvironment(App(APP, log=None), db=db) as env:
            await env.start("obs:approval", "obs:worker", 5, workflow_id="r1")
            await env.idle()

    run(fill())
    tel = Telemetry(TelemetryConfig(metrics=True))
    tel.watch_database(db)
    ro = start_ui("127.0.0.1:0", db, read_only=True, telemetry=tel)
    rw = start_ui("127.0.0.1:0", db)
    try:
        with httpx.Client(base_url=ro.url, timeout=10) as c:
            page = c.get("/workflows/r1", follow_redirects=True)
            assert "signal-form" not in page.text and "read-only" in page.text
            assert "script-src 'self'" in page.headers["content-security-policy"]
            token = re.search(r'data-run-id="([^"]+)"', page.text)
            assert token
            refused = c.post(f"/runs/{token[1]}/cancel", data={"token": "x", "confirmed": "1"})
            assert refused.status_code == 403
            metrics = c.get("/metrics")
            assert metrics.status_code == 200 and 'duralua_workflow_runs{status="running"} 1.0' in metrics.text
            assert c.get("/runs/nope").status_code == 404
            assert c.get("/runs?search=broken").status_code == 200  # a bad filter is explained, not a 500
            with c.stream("GET", "/events") as stream:
                first = next(stream.iter_lines())
                assert first == "event: hello"
        with httpx.Client(base_url=rw.url, timeout=10) as c:
            token_, run_id = form_of(c, "r1")
            bad = c.post(f"/runs/{run_id}/signal", data={"token": token_, "topic": "approve", "payload": "{nope",
                                                          "confirmed": "1"})  # fmt: skip
            assert bad.status_code == 303 and "not+valid+JSON" in bad.headers["location"]
            flash = c.get(bad.headers["location"])
            assert "not valid JSON" in flash.text and 'class="flash bad"' in flash.text
            assert c.get("/metrics").status_code == 404  # no telemetry given to this one
    finally:
        ro.stop()
        rw.stop()
        tel.close()


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        yield int(s.getsockname()[1])


def test_address_in_use_is_a_clear_error(tmp_path: Path, busy_port: int) -> None:
    from duralua.errors import ConfigError

    db = tmp_path / "e.db"
    run(_touch(db))
    with pytest.raises(ConfigError) as info:
        start_ui(f"127.0.0.1:{busy_port}", db)
    assert "cannot listen" in str(info.value)


async def _touch(db: Path) -> None:
    async with WorkflowEnvironment(App(APP, log=None), db=db):
        pass
