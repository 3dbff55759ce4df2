"""The Services page over real HTTP: read from the runtime of this process (as under
``duralua run --ui``) and through the control channel of the app serving a database (as under
``duralua ui --db``), the same table both ways; and what it says when no runtime runs."""

from __future__ import annotations

import asyncio
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx

from duralua import App
from duralua.ui import UIServer, start_ui

SVCAPP = Path(__file__).parent / "svcapp"
Rows = dict[str, list[str]]


class _Tables(HTMLParser):
    """Rows of the page's tables by their data attribute (data-service, data-pid, data-host)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, Rows] = {"service": {}, "process": {}, "host": {}}
        self.states: dict[str, str] = {}
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "tr" and a.get("class") in self.rows:
            kind = str(a["class"])
            key = a.get("data-service") or a.get("data-pid") or a.get("data-host") or ""
            self._row = self.rows[kind].setdefault(key, [])
            if kind == "service":
                self.states[key] = str(a.get("data-state"))
        elif tag == "td" and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._row is not None and self._cell is not None:
            self._row.append(" ".join(" ".join(self._cell).split()))
            self._cell = None
        elif tag == "tr":
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def tables(html: str) -> _Tables:
    parser = _Tables()
    parser.feed(html)
    return parser


def get(server: UIServer, path: str) -> httpx.Response:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        return client.get(path)


async def page_when(server: UIServer, ready: Any, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        resp = await asyncio.to_thread(get, server, "/services")
        assert resp.status_code == 200, resp.text
        if ready(resp.text) or time.monotonic() > deadline:
            return resp.text
        await asyncio.sleep(0.05)


def test_services_page_from_this_process_and_through_the_control_channel(tmp_path: Path) -> None:
    db = tmp_path / "svc.db"
    app = App(SVCAPP, log=None)

    def settled(html: str) -> bool:
        t = tables(html)
        return t.states.get("svc:crash_service") == "failed" and t.states.get("svc:done_service") == "exited"

    async def body() -> tuple[str, str, str, str]:
        loop = asyncio.get_running_loop()
        local = start_ui("127.0.0.1:0", db, bus=app.lifecycle, engine_loop=loop, runtime=app.runtime)
        try:
            before = await page_when(local, lambda _: True)
            async with app.serve_runtime(control=db):
                here = await page_when(local, settled)
                remote = start_ui("127.0.0.1:0", db)  # `duralua ui --db`: no runtime of its own
                try:
                    there = await page_when(remote, settled)
                finally:
                    await asyncio.to_thread(remote.stop)
        finally:
            await asyncio.to_thread(local.stop)
        remote = start_ui("127.0.0.1:0", db)
        try:
            gone = await page_when(remote, lambda _: True)
        finally:
            await asyncio.to_thread(remote.stop)
        return before, here, there, gone

    before, here, there, gone = asyncio.run(asyncio.wait_for(body(), 60))

    assert 'id="no-runtime"' in before and "process hosts and services are not running" in before
    t = tables(here)
    services = t.rows["service"]
    assert t.states == {"svc:keeper_service": "running", "svc:crash_service": "failed",
                        "svc:done_service": "exited", "svc:manual_service": "unknown"}  # fmt: skip
    # columns: state, service, process, host, pid, running since, restarts, attempts, last error
    keeper = services["svc:keeper_service"]
    assert keeper[0] == "Running" and keeper[2:4] == ["svc:keeper", "svc:procs"] and keeper[4].startswith("{")
    crash = services["svc:crash_service"]
    assert crash[0] == "Failed" and crash[6:8] == ["0", "1 of 3"]
    assert crash[8] == "Internal: src/svc.lua:21: boom <b onmouseover=\"document.title='pwned'\">x</b>"
    assert "<b onmouseover" not in here and "boom &lt;b onmouseover" in here  # an error is text, never markup
    assert services["svc:done_service"][0] == "Exited" and services["svc:done_service"][8] == ""
    assert services["svc:manual_service"][:2] == ["Not started", "svc:manual_service auto_start: false"]
    # live processes: pid, entry, host, registered names, service
    procs = {row[1]: row for row in t.rows["process"].values()}
    assert set(procs) == {"svc:keeper", "svc:helper"}
    assert procs["svc:keeper"] == [keeper[4], "svc:keeper", "svc:procs", "keeper", "svc:keeper_service"]
    assert procs["svc:helper"][2:] == ["svc:procs", "keeper-helper", "—"]
    assert t.rows["host"]["svc:procs"] == ["svc:procs", "running", "2", "1"]
    assert "read from this process" in here and 'href="/services"' in here

    remote = tables(there)
    assert remote.rows == t.rows and remote.states == t.states
    assert f"read from {db}.sock" in there

    assert 'id="no-runtime"' in gone and f"no `duralua run` serves {db}" in gone
    assert not tables(gone).rows["service"]
