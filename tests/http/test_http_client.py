"""http_client against a local HTTP server (Starlette on Uvicorn, 127.0.0.1): functions, an
activity under a retry policy, and the refusal inside workflows."""

from __future__ import annotations

import asyncio
import base64
import collections
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from duralua import App

from .support import CLIENT, run

HITS: collections.Counter[str] = collections.Counter()


async def echo(request: Request) -> Response:
    body = await request.body()
    return JSONResponse({
        "method": request.method, "query": sorted(request.query_params.multi_items()),
        "headers": {k: v for k, v in request.headers.items() if k.startswith(("x-", "content-type", "cookie"))},
        "authorization": request.headers.get("authorization"), "body_hex": body.hex(),
    })  # fmt: skip


async def status(request: Request) -> Response:
    code = int(request.path_params["code"])
    return PlainTextResponse(f"status {code}", status_code=code)


async def flaky(request: Request) -> Response:
    key = request.path_params["key"]
    HITS[key] += 1
    if HITS[key] <= 2:
        return PlainTextResponse("try again", status_code=503)
    return PlainTextResponse(f"ok after {HITS[key]}")


async def not_found(request: Request) -> Response:
    HITS[request.path_params["key"]] += 1
    return PlainTextResponse("no such thing", status_code=404)


async def slow(request: Request) -> Response:
    await asyncio.sleep(2)
    return PlainTextResponse("late")


async def big(request: Request) -> Response:
    return Response(b"z" * 4000)


async def cookie(request: Request) -> Response:
    r = PlainTextResponse("")
    r.set_cookie("session", "abc")
    return r


async def redirect(request: Request) -> Response:
    return RedirectResponse("/echo?from=redirect", status_code=302)


TARGET = Starlette(routes=[
    Route("/echo", echo, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
    Route("/status/{code:int}", status), Route("/flaky/{key}", flaky), Route("/missing/{key}", not_found),
    Route("/slow", slow), Route("/big", big), Route("/cookie", cookie), Route("/redirect", redirect),
])  # fmt: skip


@asynccontextmanager
async def target() -> AsyncIterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    config = uvicorn.Config(TARGET, lifespan="off", log_config=None, access_log=False)
    server = uvicorn.Server(config)
    config.load()
    server.lifespan = config.lifespan_class(config)
    await server.startup(sockets=[sock])
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await server.shutdown(sockets=[sock])
        sock.close()


def _app() -> App:
    return App(CLIENT, log=None)


def test_requests_from_a_function() -> None:
    async def body() -> None:
        app = _app()
        async with target() as base:
            got: Any = await app.acall("client:request", "POST", base + "/echo?a=1&keep=yes", {
                "headers": {"X-Token": "t", "X-Number": 5},  # non-string values are dropped, as in Wippy
                "query": {"a": "2", "page": 3}, "body": '{"k":1}', "auth": {"user": "u", "pass": "p"},
                "cookies": {"c": "v"},
            })  # fmt: skip
            assert got["status"] == 200 and got["headers"]["Content-Type"] == "application/json"
            echoed = json.loads(base64.b64decode(got["body"]))
            assert echoed["method"] == "POST"
            assert echoed["query"] == [["a", "2"], ["keep", "yes"]]
            assert echoed["headers"]["x-token"] == "t" and "x-number" not in echoed["headers"]
            assert echoed["headers"]["cookie"] == "c=v"
            assert echoed["authorization"] == "Basic " + base64.b64encode(b"u:p").decode()
            assert bytes.fromhex(echoed["body_hex"]) == b'{"k":1}'
            form: Any = await app.acall("client:request", "put", base + "/echo", {"form": {"x": "1 2"}})
            formed = json.loads(base64.b64decode(form["body"]))
            assert formed["method"] == "PUT" and bytes.fromhex(formed["body_hex"]) == b"x=1+2"
            assert formed["headers"]["content-type"] == "application/x-www-form-urlencoded"
            # Any status is a response, never an error.
            teapot: Any = await app.acall("client:request", "GET", base + "/status/418", {"via_get": True})
            assert teapot["status"] == 418 and base64.b64decode(teapot["body"]) == b"status 418"
            redirected: Any = await app.acall("client:request", "GET", base + "/redirect")
            assert redirected["status"] == 200 and redirected["url"] == base + "/echo?from=redirect"
            jar: Any = await app.acall("client:request", "GET", base + "/cookie")
            assert jar["cookies"] == {"session": "abc"} and "body" not in jar and jar["size"] == 0
            raw: Any = await app.acall("client:binary", base + "/echo")
            sent = json.loads(base64.b64decode(raw["body"]))
            assert bytes.fromhex(sent["body_hex"]) == bytes([0, 1, 2, 200, 255]) + b"tail"

    run(body)


def test_transport_errors_are_retryable_internal_errors() -> None:
    async def body() -> None:
        app = _app()
        with socket.socket() as s:  # a port nobody listens on
            s.bind(("127.0.0.1", 0))
            dead = f"http://127.0.0.1:{s.getsockname()[1]}/"
        refused: Any = await app.acall("client:request", "GET", dead)
        assert refused["err"]["kind"] == "Internal" and refused["err"]["retryable"] is True
        assert refused["err"]["message"].startswith(f'Get "{dead}": ')
        async with target() as base:
            late: Any = await app.acall("client:request", "GET", base + "/slow", {"timeout": "300ms"})
            assert late["err"]["retryable"] is True and "Client.Timeout 0.3s exceeded" in late["err"]["message"]
            large: Any = await app.acall("client:request", "GET", base + "/big", {"max_response_body": 1000})
            assert "response body too large (max 1000 bytes)" in large["err"]["message"]
            strict: Any = await app.acall("client:request", "GET", base + "/status/404", {"fail_on_status": True})
            assert strict["err"]["kind"] == "NotFound" and strict["err"]["retryable"] is False
            assert strict["err"]["details"] == {"status_code": 404, "body": "status 404"}
            busy: Any = await app.acall("client:request", "GET", base + "/status/503", {"fail_on_status": True})
            assert (busy["err"]["kind"], busy["err"]["retryable"]) == ("Unavailable", True)
        bad_url: Any = await app.acall("client:request", "GET", "nota url")
        assert bad_url["err"]["kind"] == "Internal"

    run(body)


def test_batch_uri_helpers_and_misuse() -> None:
    async def body() -> None:
        app = _app()
        async with target() as base:
            out: Any = await app.acall("client:batch", [["GET", base + "/status/200"], ["GET", "http://127.0.0.1:9/"],
                                                         ["POST", base + "/echo", {"body": "x"}]])  # fmt: skip
            assert out["has_errors"] is True
            assert out["items"][0] == {"status": 200} and out["items"][2] == {"status": 200}
            assert out["items"][1]["retryable"] is True
        uri: Any = await app.acall("client:uri", "a b&c=d/é")
        assert uri == {"encoded": "a+b%26c%3Dd%2F%C3%A9", "decoded": "a b&c=d/é", "bad": 'invalid URL escape "%zz"',
                       "bad_kind": "Invalid"}  # fmt: skip
        misuse: Any = await app.acall("client:misuse")
        assert "url must be a non-empty string" in misuse["empty_url"]
        assert "options must be a table or nil" in misuse["bad_options"]
        assert "non-empty array" in misuse["empty_batch"]
        assert misuse["batch_no_url"] == "URL must be a string"
        assert misuse["tls"] == "http_client: option 'tls' is not supported by duralua"

    run(body)


def test_an_activity_retries_a_server_that_fails_twice(tmp_path: Path) -> None:
    async def body() -> None:
        HITS.clear()
        app = _app()
        async with target() as base, app.engine(db=tmp_path / "t.db") as wf:
            strict = await wf.execute("client:fetch_flow", "client:worker", "client:fetch_strict", base + "/flaky/s")
            assert strict == {"body": "ok after 3"} and HITS["s"] == 3
            manual = await wf.execute("client:fetch_flow", "client:worker", "client:fetch_manual", base + "/flaky/m")
            assert manual == {"body": "ok after 3"} and HITS["m"] == 3
            # A 4xx is not retried.
            gone = await wf.execute("client:fetch_flow", "client:worker", "client:fetch_strict", base + "/missing/g")
            assert (gone["kind"], gone["retryable"], HITS["g"]) == ("NotFound", False, 1)
            rejected = await wf.execute("client:fetch_flow", "client:worker", "client:fetch_manual",
                                        base + "/missing/r")  # fmt: skip
            assert (rejected["error"], HITS["r"]) == ("rejected: 404", 1)

    run(body)


def test_refused_inside_a_workflow(tmp_path: Path) -> None:
    async def body() -> None:
        app = _app()
        async with app.engine(db=tmp_path / "t.db") as wf:
            out = await wf.execute("client:workflow_http", "client:worker", "http://127.0.0.1:9/")
        assert out == {"got_response": False,
                       "error": "http_client is not available inside a workflow (its results would not replay): "
                                "make the request in an activity (funcs.call of a function entry)"}  # fmt: skip

    run(body)
