"""The embedded engine loads none of the heavy optional libraries (issue 13, item 4): an app that
runs workflows on it does not pay for the Temporal SDK, OpenTelemetry, prometheus-client or the
HTTP/UI stack (Starlette, Uvicorn, Jinja2), nor the libraries behind crypto's ciphers and JWT and
json.validate (cryptography, PyJWT, jsonschema), unless it uses them. Checked in a fresh
interpreter."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

APP = Path(__file__).parent / "app"
HEAVY = ("temporalio", "opentelemetry", "prometheus_client", "starlette", "uvicorn", "jinja2", "httpx", "grpc",
         "google", "pydantic", "anyio", "typer", "rich", "cryptography", "jwt", "jsonschema", "referencing",
         "rpds", "croniter", "dateutil")  # fmt: skip


def test_running_workflows_on_the_embedded_engine_imports_no_heavy_library(tmp_path: Path) -> None:
    code = textwrap.dedent(f"""
        import asyncio, sys
        from duralua import App
        from duralua.testing import WorkflowEnvironment

        async def main():
            app = App({str(APP)!r}, log=None)
            async with app.engine({str(tmp_path / "x.db")!r}) as wf:
                pid = await wf.start("eng:grow", "eng:worker", 3)
                await wf.signal(pid, "go")
                assert await wf.result(pid) == 3
            async with WorkflowEnvironment(app, db={str(tmp_path / "y.db")!r}) as env:  # timers, time skipped
                assert await env.execute("eng:ordered", "eng:worker") == "ab"

        asyncio.run(main())
        heavy = {HEAVY!r}
        print(sorted({{m.split(".")[0] for m in sys.modules}} & set(heavy)))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_duralua_run_of_an_app_without_http_services_loads_no_http_server(tmp_path: Path) -> None:
    # What `duralua run` does around the engine (cli/main.py: _serve_embedded), short of serving.
    code = textwrap.dedent(f"""
        import asyncio, sys
        import duralua.cli.main
        from duralua import App
        from duralua.http.server import stderr_line

        async def main():
            app = App({str(APP)!r}, log=None)
            async with app.engine({str(tmp_path / "x.db")!r}) as wf, app.http_services(announce=stderr_line):
                pid = await wf.start("eng:grow", "eng:worker", 1)
                await wf.signal(pid, "go")
                assert await wf.result(pid) == 1

        asyncio.run(main())
        print(sorted({{m.split(".")[0] for m in sys.modules}} & {{"uvicorn", "starlette", "h11", "croniter"}}))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
