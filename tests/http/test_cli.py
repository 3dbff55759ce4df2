"""``duralua run`` serves the app's HTTP services: addresses printed, graceful SIGTERM, a port in
use as one clear line, and an approval flow over HTTP that survives SIGKILLs between calls."""

from __future__ import annotations

import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from .support import DURALUA, WEB, Run, cli_env, free_port


def _ports() -> tuple[int, int, dict[str, str]]:
    api, edge = free_port(), free_port()
    return api, edge, cli_env(WEB_HTTP_ADDR=f"127.0.0.1:{api}", WEB_EDGE_ADDR=f"127.0.0.1:{edge}")


def test_run_prints_addresses_serves_and_stops_gracefully(tmp_path: Path) -> None:
    api, edge, env = _ports()
    proc = Run(tmp_path, WEB, "--db", tmp_path / "run.db", env=env)
    try:
        proc.wait_for("Ctrl-C to stop")
        err = proc.stderr()
        assert f"http web:api_server serving 9 routes on http://127.0.0.1:{api}" in err
        assert f"http web:edge_server serving 2 routes on http://127.0.0.1:{edge}" in err
        r = httpx.post(f"http://127.0.0.1:{api}/api/orders", json={"id": 1, "total": 2}, timeout=30)
        assert r.status_code == 202, r.text
        # SIGTERM while a request is in flight: it is answered, then duralua exits.
        answers: list[httpx.Response] = []
        slow = threading.Thread(target=lambda: answers.append(httpx.get(f"http://127.0.0.1:{edge}/fault/nap",
                                                                        timeout=30)))  # fmt: skip
        slow.start()
        time.sleep(0.15)  # the handler naps 300ms
        code = proc.stop(signal.SIGTERM)
        slow.join(30)
        assert code == 128 + signal.SIGTERM
        assert [(a.status_code, a.json()) for a in answers] == [(200, {"napped": True})]
        assert "POST /api/orders 202 " in proc.stderr()
    finally:
        proc.stop()


def test_a_port_in_use_is_one_line_naming_the_entry(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = cli_env(WEB_HTTP_ADDR=f"127.0.0.1:{port}", WEB_EDGE_ADDR="127.0.0.1:0")
        done = subprocess.run([str(DURALUA), "run", str(WEB), "--db", str(tmp_path / "x.db")], env=env,
                              capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if line.startswith("error")]
    assert lines == [f"error: http.service web:api_server: cannot listen on 127.0.0.1:{port}: address already in use "
                     "(another program, or another duralua, serves it)"], done.stderr  # fmt: skip
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_approval_flow_over_http_survives_sigkill_between_calls(tmp_path: Path) -> None:
    api, _, env = _ports()
    db = tmp_path / "approval.db"
    base = f"http://127.0.0.1:{api}"

    def up() -> Run:
        proc = Run(tmp_path, WEB, "--db", db, env=env)
        proc.wait_for("Ctrl-C to stop")
        return proc

    proc = up()
    try:
        r = httpx.post(base + "/api/approvals", json={"id": 41, "total": 9}, timeout=30)
        assert r.status_code == 202, r.text
        pid = r.json()["workflow"]
        assert proc.stop(signal.SIGKILL) == -signal.SIGKILL

        proc = up()
        status = httpx.get(base + "/api/approvals/41", params={"pid": pid, "wait": "100ms"}, timeout=30)
        assert (status.status_code, status.json()) == (202, {"status": "running"})
        # The id is taken by the running workflow (conflict policy "fail").
        again = httpx.post(base + "/api/approvals", json={"id": 41, "total": 9}, timeout=30)
        assert again.status_code == 409, again.text
        sent = httpx.post(base + "/api/approvals/41/approve", params={"pid": pid}, headers={"X-User": "boss"},
                          timeout=30)  # fmt: skip
        assert sent.json() == {"sent": True}
        assert proc.stop(signal.SIGKILL) == -signal.SIGKILL

        proc = up()
        done = httpx.get(base + "/api/approvals/41", params={"pid": pid, "wait": "10s"}, timeout=30)
        assert done.status_code == 200, done.text
        assert done.json() == {"status": "done", "result": {"status": "approved", "by": "boss", "payment": "ch-41"}}
    finally:
        proc.stop()
