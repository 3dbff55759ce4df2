"""The HTTP acceptance flows on Temporal (dev server): in-process, and through ``duralua run``."""

from __future__ import annotations

import signal
import uuid
from pathlib import Path

import httpx
import pytest

from duralua import App
from duralua.registry import load_app
from duralua.temporal.devserver import DevServer
from duralua.temporal.worker import TemporalHost

from ..temporal.harness import dev_server
from .support import WEB, Run, cli_env, free_port, run

pytestmark = pytest.mark.temporal


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest) -> DevServer:
    return dev_server(request.config)


def test_seed_and_approval_flows_on_temporal(server: DevServer) -> None:
    env = {"TEMPORAL_ADDRESS": server.address, "WEB_TASK_QUEUE": f"web-{uuid.uuid4().hex[:8]}"}

    async def body() -> None:
        app = App(registry=load_app(WEB, env=env), log=None)
        async with TemporalHost(app, env=env, notify=None) as host, app.http_services() as web:
            assert host.engine is not None
            async with httpx.AsyncClient(base_url=web.addresses["web:api_server"], timeout=30) as c:
                oid = uuid.uuid4().int % 10**9
                r = await c.post("/api/orders", json={"id": oid, "total": 3, "hold": "1s"})
                assert r.status_code == 202, r.text
                pid = r.json()["workflow"]
                assert pid.endswith(f"|order-{oid}}}")
                again = await c.post("/api/orders", json={"id": oid, "total": 3})
                assert again.status_code == 409, again.text
                value, failure = await host.engine.result(pid)
                assert failure is None and value == {"status": "completed", "order": oid, "payment": f"ch-{oid}"}
                # The seed documents' handler, as written (chained response style).
                seed = await c.post("/api/seed/orders", json={"id": oid + 1, "total": 1})
                assert seed.status_code == 200 and seed.json()["status"] == "started", seed.text
                value, failure = await host.engine.result(seed.json()["workflow_id"])
                assert failure is None and value["payment"] == f"ch-{oid + 1}"

                started = await c.post("/api/approvals", json={"id": oid, "total": 4})
                assert started.status_code == 202, started.text
                apid = started.json()["workflow"]
                sent = await c.post(f"/api/approvals/{oid}/approve", params={"pid": apid}, headers={"X-User": "t"})
                assert sent.json() == {"sent": True}, sent.text
                done = await c.get(f"/api/approvals/{oid}", params={"pid": apid, "wait": "20s"})
                assert done.json() == {"status": "done",
                                       "result": {"status": "approved", "by": "t", "payment": f"ch-{oid}"}}  # fmt: skip

    run(body, timeout=120)


def test_duralua_run_on_temporal_serves_http(server: DevServer, tmp_path: Path) -> None:
    api = free_port()
    env = cli_env(TEMPORAL_ADDRESS=server.address, WEB_TASK_QUEUE=f"web-{uuid.uuid4().hex[:8]}",
                  WEB_HTTP_ADDR=f"127.0.0.1:{api}", WEB_EDGE_ADDR="127.0.0.1:0")  # fmt: skip
    proc = Run(tmp_path, WEB, "--engine", "temporal", env=env)
    try:
        proc.wait_for(f"http web:api_server serving 9 routes on http://127.0.0.1:{api}", timeout=90)
        base = f"http://127.0.0.1:{api}"
        oid = uuid.uuid4().int % 10**9
        started = httpx.post(base + "/api/approvals", json={"id": oid, "total": 2}, timeout=30)
        assert started.status_code == 202, started.text
        pid = started.json()["workflow"]
        assert httpx.post(base + f"/api/approvals/{oid}/approve", params={"pid": pid}, timeout=30).json() == {
            "sent": True
        }
        done = httpx.get(base + f"/api/approvals/{oid}", params={"pid": pid, "wait": "20s"}, timeout=60)
        assert done.json()["result"]["status"] == "approved", done.text
        assert proc.stop(signal.SIGTERM) == 128 + signal.SIGTERM
        assert "stopping…" in proc.stderr()
    finally:
        proc.stop()
