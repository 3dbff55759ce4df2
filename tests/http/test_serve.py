"""HTTP services on the embedded engine: real servers on 127.0.0.1, real requests (httpx)."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from pathlib import Path

import httpx
import pytest

from duralua.errors import ConfigError

from .support import EDGE, raw_exchange, run, serving

PID = re.compile(r"^\{web:temporal_client@web:worker\|order-\d+\}$")


def test_seed_handler_starts_a_workflow_and_refuses_a_duplicate_id(tmp_path: Path) -> None:
    async def body() -> None:
        async with serving(tmp_path / "t.db") as s, httpx.AsyncClient(base_url=s.url()) as c:
            r = await c.post("/api/orders", json={"id": 7, "total": 12, "hold": "300ms"},
                             headers={"X-Request-ID": "req-1"})  # fmt: skip
            assert r.status_code == 202, r.text
            pid = r.json()["workflow"]
            assert PID.match(pid)
            again = await c.post("/api/orders", json={"id": 7, "total": 12})
            assert again.status_code == 409, again.text
            assert "order-7" in again.json()["error"]
            assert await s.wf.result(pid) == {"status": "completed", "order": 7, "payment": "ch-7"}
            # The seed documents' handler, as written (chained response style).
            seed = await c.post("/api/seed/orders", content=json.dumps({"id": 8, "total": 1}))
            assert seed.status_code == 200, seed.text
            assert seed.headers["content-type"] == "application/json"
            started = seed.json()
            assert started["status"] == "started"
            assert (await s.wf.result(started["workflow_id"]))["payment"] == "ch-8"
            assert any(line.startswith("POST /api/orders 202 ") for line in s.access_log())
            assert any(line.startswith("POST /api/orders 409 ") for line in s.access_log())

    run(body)


def test_approval_flow_over_http(tmp_path: Path) -> None:
    async def body() -> None:
        async with serving(tmp_path / "t.db") as s, httpx.AsyncClient(base_url=s.url()) as c:
            r = await c.post("/api/approvals", json={"id": 5, "total": 9})
            assert r.status_code == 202, r.text
            pid = r.json()["workflow"]
            waiting = await c.get("/api/approvals/5", params={"pid": pid, "wait": "50ms"})
            assert (waiting.status_code, waiting.json()) == (202, {"status": "running"})
            sent = await c.post("/api/approvals/5/approve", params={"pid": pid}, headers={"X-User": "manager"})
            assert sent.json() == {"sent": True}, sent.text
            done = await c.get("/api/approvals/5", params={"pid": pid})
            assert done.status_code == 200
            result = {"status": "approved", "by": "manager", "payment": "ch-5"}
            assert done.json() == {"status": "done", "result": result}
            unknown = await c.post("/api/approvals/5/approve", params={"pid": "{web:temporal_client@web:worker|nope}"})
            assert unknown.status_code == 404, unknown.text

    run(body)


def test_request_object(tmp_path: Path) -> None:
    async def body() -> None:
        async with serving(tmp_path / "t.db") as s, httpx.AsyncClient(base_url=s.url()) as c:
            r = await c.post("/echo/bob%20b/x/y?a=1&a=2&b=", content=b'{"k": 1}',
                             headers={"X-Custom": "c", "Content-Type": "application/json; charset=utf-8",
                                      "Accept": "text/html, application/*;q=0.8"})  # fmt: skip
            assert r.status_code == 200 and r.headers["x-echo"] == "yes"
            got = r.json()
            port = s.url().rsplit(":", 1)[1]
            assert got["method"] == "POST" and got["path"] == "/echo/bob b/x/y"
            assert got["host"] == f"127.0.0.1:{port}" and got["remote_addr"].startswith("127.0.0.1:")
            assert got["query_a"] == "1" and got["query_params"] == {"a": "1,2", "b": ""}
            assert got["header"] == "c" and got["content_type"] == "application/json; charset=utf-8"
            assert got["is_json"] is True and got["accepts_json"] is True
            assert got["param_name"] == "bob b" and "param_rest" not in got  # {rest...} is not a param
            assert got["params"] == {"name": "bob b"}
            assert (got["body"], got["body_len"], got["content_length"], got["has_body"]) == ('{"k": 1}', 8, 8, True)
            assert got["pid"].startswith("{local@web:echo|")
            head = await c.head("/echo/a/b")  # HEAD falls back to GET
            assert head.status_code == 200 and head.content == b""
            blob = bytes(range(256)) * 3
            back = await c.post(s.url(EDGE) + "/fault/mirror", content=blob,
                                headers={"Content-Type": "image/x-test"})  # fmt: skip
            assert back.content == blob and back.headers["content-type"] == "image/x-test"

    run(body)


def test_handler_outcomes(tmp_path: Path) -> None:
    expected = {
        "raise": (500, "src/faults.lua:7: boom in handler\n"),
        "nil_err": (500, "refused by handler\n"),
        "nothing": (500, "no response sent\n"),
        "table": (500, "no response sent\n"),
        "string": (200, '{"raw":true}'),
        "written_then_raise": (201, "partial"),
        "bad_status": (500, "res:set_status: status must be an integer from 100 to 599, got 999\n"),
    }

    async def body() -> None:
        async with serving(tmp_path / "t.db") as s, httpx.AsyncClient(base_url=s.url(EDGE)) as c:
            for case, (status, text) in expected.items():
                r = await c.get(f"/fault/{case}")
                assert (r.status_code, r.text) == (status, text), case
            assert (await c.get("/fault/string")).headers["content-type"] == "application/json"
            nested = await c.get("/fault/nested")
            assert nested.json()["nested"] == {
                "has_request": False,
                "error": "no HTTP context: http.request()/http.response() work only in the handler of an http.endpoint",
            }
            binary = await c.get("/fault/binary")
            assert binary.content == b"\0\1\2\xff\xfe"
            log = "\n".join(s.access_log(EDGE))
            assert "GET /fault/raise 500" in log and "boom in handler" in log
            assert "GET /fault/nothing 500" in log and "no response sent (the handler returned nothing)" in log

    run(body)


def test_faults_get_clear_errors_and_the_server_keeps_serving(tmp_path: Path) -> None:
    async def body() -> None:
        async with serving(tmp_path / "t.db", instruction_budget=2_000_000) as s:
            edge = s.url(EDGE)
            async with httpx.AsyncClient(base_url=edge) as c:

                async def still_serving() -> None:
                    ok = await c.get("/fault/string")
                    assert ok.status_code == 200

                bad = await c.post("/fault/json", content=b'{"id": ')
                assert bad.status_code == 400 and bad.json()["kind"] == "Invalid"
                assert "invalid JSON body" in bad.json()["error"]
                await still_serving()
                missing = await c.get("/nowhere")
                assert (missing.status_code, missing.text) == (404, "404 page not found\n")
                wrong = await c.delete("/fault/string")
                assert wrong.status_code == 405 and wrong.headers["allow"] == "GET, POST, HEAD"
                big = await c.post("/fault/json", content=b"x" * 2048)
                assert big.status_code == 413 and "limit 1024 bytes" in big.text

                async def chunks() -> object:
                    for _ in range(8):
                        yield b"y" * 256

                streamed = await c.post("/fault/json", content=chunks())  # no Content-Length
                assert streamed.status_code == 413
                await still_serving()
                looped = await c.get("/fault/loop")
                assert looped.status_code == 500 and "instruction budget" in looped.text
                await still_serving()
                slow_handler = await c.get("/fault/slow")  # sleeps 3s; timeouts.write is 1s
                assert slow_handler.status_code == 503 and "within 1s" in slow_handler.text
                await still_serving()
            # A client that sends half a body: 408 after timeouts.read (1s).
            head = b"POST /fault/json HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b"{" * 10
            slow_body = await raw_exchange(edge, head, wait=4)
            assert slow_body.startswith(b"HTTP/1.1 408 "), slow_body
            # Half a request line: the connection is closed after timeouts.read.
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            slow_head = await raw_exchange(edge, b"GET /fault/str", wait=4)
            assert slow_head == b"" and 0.8 < loop.time() - t0 < 3.5
            async with httpx.AsyncClient(base_url=edge) as c:
                await c.get("/fault/string")
                assert (await c.get("/fault/string")).status_code == 200

    run(body)


def test_concurrent_requests_see_only_their_own_exchange(tmp_path: Path) -> None:
    async def body() -> None:
        async with serving(tmp_path / "t.db") as s, httpx.AsyncClient(base_url=s.url()) as c:

            async def one(i: int) -> None:
                r = await c.get("/cases/interleave", params={"tag": str(i)}, headers={"X-Tag": f"h{i}"})
                got = r.json()
                assert (got["before"], got["after"], r.headers["x-tag"]) == (str(i), str(i), f"h{i}")

            await asyncio.gather(*(one(i) for i in range(60)))

    run(body)


def test_cors_on_the_router_that_lists_it(tmp_path: Path) -> None:
    async def body() -> None:
        async with serving(tmp_path / "t.db") as s, httpx.AsyncClient(base_url=s.url()) as c:
            pre = await c.options("/api/orders", headers={"Origin": "https://shop.example",
                                                          "Access-Control-Request-Method": "POST"})  # fmt: skip
            assert pre.status_code == 200
            assert pre.headers["access-control-allow-origin"] == "https://shop.example"
            other = await c.options("/api/orders", headers={"Origin": "https://evil.example",
                                                            "Access-Control-Request-Method": "POST"})  # fmt: skip
            assert other.status_code == 400 and "access-control-allow-origin" not in other.headers
            simple = await c.post("/api/orders", content=b"{", headers={"Origin": "https://shop.example"})
            assert simple.status_code == 400
            assert simple.headers["access-control-allow-origin"] == "https://shop.example"
            unknown = await c.get("/api/nothing", headers={"Origin": "https://shop.example"})
            assert unknown.status_code == 404 and unknown.headers["access-control-allow-origin"]
            plain = await c.get("/echo/a/b", headers={"Origin": "https://shop.example"})
            assert "access-control-allow-origin" not in plain.headers

    run(body)


def test_server_sent_events_stream(tmp_path: Path) -> None:
    async def body() -> None:
        async with serving(tmp_path / "t.db") as s, httpx.AsyncClient(base_url=s.url()) as c:
            arrivals: list[float] = []
            text = b""
            loop = asyncio.get_running_loop()
            async with c.stream("GET", "/stream") as r:
                assert r.headers["content-type"] == "text/event-stream"
                assert r.headers["transfer-encoding"] == "chunked"
                async for chunk in r.aiter_raw():
                    arrivals.append(loop.time())
                    text += chunk
            events = [e for e in text.decode().split("\n\n") if e]
            assert events == [f'id: {i}\nevent: tick\ndata: {{"n":{i}}}' for i in (1, 2, 3)]
            assert len(arrivals) >= 2 and arrivals[-1] - arrivals[0] >= 0.02  # sent as written, not at the end

    run(body)


def test_a_stream_ends_when_the_client_leaves(tmp_path: Path) -> None:
    async def body() -> None:
        async with serving(tmp_path / "t.db") as s:
            async with httpx.AsyncClient(base_url=s.url()) as c, c.stream("GET", "/cases/forever") as r:
                async for chunk in r.aiter_raw():
                    assert chunk.startswith(b"data: 1\n")
                    break
            for _ in range(100):  # the handler's next write fails, and it returns
                if any(line.startswith("GET /cases/forever 200 ") for line in s.access_log()):
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError(f"the stream did not end: {s.access_log()}")

    run(body)


def test_graceful_stop_finishes_in_flight_requests(tmp_path: Path) -> None:
    async def body() -> None:
        async with serving(tmp_path / "t.db") as s:
            edge = s.url(EDGE)
            async with httpx.AsyncClient(base_url=edge) as c:
                pending = asyncio.ensure_future(c.get("/fault/nap"))
                await asyncio.sleep(0.1)
                await s.web.stop()
                r = await pending
                assert (r.status_code, r.json()) == (200, {"napped": True})
            with pytest.raises(httpx.ConnectError):
                async with httpx.AsyncClient(base_url=edge) as c2:
                    await c2.get("/fault/string")

    run(body)


def test_a_port_in_use_is_one_error_naming_the_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv("WEB_EDGE_ADDR", f"127.0.0.1:{port}")

        async def body() -> None:
            with pytest.raises(ConfigError) as info:
                async with serving(tmp_path / "t.db"):
                    pass
            assert str(info.value) == (
                f"http.service {EDGE}: cannot listen on 127.0.0.1:{port}: address already in use "
                "(another program, or another duralua, serves it)"
            )

        run(body)


def test_services_with_auto_start_false_are_not_served(tmp_path: Path) -> None:
    src = tmp_path / "app" / "src"
    src.mkdir(parents=True)
    (tmp_path / "app" / "wippy.lock").write_text("directories:\n  src: ./src\n")
    (src / "h.lua").write_text('local http = require("http")\n'
                               'return {h = function() http.response():write("hi") end}\n')  # fmt: skip
    (src / "_index.yaml").write_text(
        'version: "1.0"\nnamespace: t\nentries:\n'
        '  - {name: on, kind: http.service, addr: "127.0.0.1:0"}\n'
        '  - {name: off, kind: http.service, addr: "127.0.0.1:0", lifecycle: {auto_start: false}}\n'
        "  - {name: r, kind: http.router, meta: {server: on}}\n"
        "  - {name: h, kind: function.lua, source: file://h.lua, method: h, modules: [http]}\n"
        "  - {name: e, kind: http.endpoint, meta: {router: r}, method: GET, path: /, func: h}\n"
    )

    async def body() -> None:
        from duralua import App

        app = App(tmp_path / "app", log=None)
        async with app.http_services() as web:
            assert list(web.addresses) == ["t:on"]
            async with httpx.AsyncClient() as c:
                r = await c.get(web.addresses["t:on"] + "/")
                assert (r.status_code, r.text) == (200, "hi")

    run(body)
