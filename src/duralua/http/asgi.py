"""The ASGI application of one ``http.service``: route, apply the router's middleware, read
the body, call the endpoint's function and turn its outcome into a response.

Handler outcomes (processes.md §7):

* it wrote (``write``/``write_json``/``flush``): the response as written, whatever it returned;
* it raised or returned ``nil, err`` without writing: 500 with the error text;
* it returned a string without writing: that string is the body (``application/json`` unless
  the handler set a content type);
* nothing written, nothing (or a non-string) returned: 500 ``no response sent``.

Errors of the server itself are plain text: 404 (no route), 405 (route exists for other
methods; ``Allow`` lists them), 408 (body too slow, ``timeouts.read``), 413 (``max_body``),
503 (handler slower than ``timeouts.write``). One access-log line per request goes to the
app log: ``METHOD path status ms`` (plus the error of a failed handler).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import quote

from starlette.middleware.cors import CORSMiddleware

from ..codec import JSONValue
from ..errors import CallError, Failure
from ..runtime.functions import FunctionRuntime
from .config import ServiceConfig
from .exchange import Exchange
from .routes import Match, RouterDef, RouteTable, ServiceRoutes

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Logger = Callable[[str, str], None]

_log = logging.getLogger("duralua.http")
_MATCH = "duralua.match"
_TEXT = (b"content-type", b"text/plain; charset=utf-8")


class _Status:
    """What the access log needs to know about one request."""

    __slots__ = ("code", "note")

    def __init__(self) -> None:
        self.code = 0
        self.note = ""


class ServiceApp:
    """One service's ASGI callable (``await app(scope, receive, send)``)."""

    def __init__(self, cfg: ServiceConfig, routes: ServiceRoutes, runtime: FunctionRuntime,
                 log: Logger | None) -> None:  # fmt: skip
        self.cfg = cfg
        self.table = RouteTable(routes.endpoints)
        self.runtime = runtime
        self.log = log
        self._background: set[asyncio.Task[Any]] = set()
        # Longest prefix first: a 404 under /api still gets the /api router's CORS headers.
        self._routers = sorted(routes.routers.values(), key=lambda r: len(r.prefix), reverse=True)
        self._stacks: dict[str, ASGIApp] = {r.id: self._stack(r) for r in routes.routers.values()}

    def _stack(self, router: RouterDef) -> ASGIApp:
        app: ASGIApp = self._dispatch
        cors = router.cors
        if cors is not None:
            mw: Any = CORSMiddleware(
                app,
                allow_origins=cors.allow_origins, allow_methods=cors.allow_methods,
                allow_headers=cors.allow_headers, allow_credentials=cors.allow_credentials,
                expose_headers=cors.expose_headers, max_age=cors.max_age,
            )  # fmt: skip
            app = mw
        return app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # lifespan is off; websockets are refused by the server when unanswered
        started = time.perf_counter()
        status = _Status()

        async def tracked(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.code = int(message["status"])
            await send(message)

        raw = scope.get("raw_path")
        raw_path = raw.decode("latin-1") if raw else quote(scope["path"])
        method = scope["method"]
        match = self.table.match(method, raw_path)
        scope[_MATCH] = match
        router = self._router_of(match, raw_path)
        try:
            app = self._stacks[router.id] if router is not None else self._dispatch
            scope["duralua.status"] = status
            await app(scope, receive, tracked)
        except Exception as exc:  # a bug here must cost one request, not the server
            _log.exception("http %s: %s %s failed", self.cfg.id, method, scope["path"])
            status.note = f"internal error: {type(exc).__name__}: {exc}"
            if status.code == 0:
                await _plain(tracked, 500, "internal server error")
        finally:
            if self.log is not None:
                ms = (time.perf_counter() - started) * 1000
                path = scope["path"] + ("?" + scope["query_string"].decode("latin-1") if scope["query_string"] else "")
                line = f"{method} {path} {status.code or 499} {ms:.1f}ms"
                self.log(self.cfg.id, line + (f" ({status.note})" if status.note else ""))

    def _router_of(self, match: Match | None, raw_path: str) -> RouterDef | None:
        if match is not None:
            return next(r for r in self._routers if r.id == match.router)
        for router in self._routers:
            if raw_path == router.prefix or raw_path.startswith(router.prefix + "/"):
                return router
        return None

    # -- after middleware -----------------------------------------------------------------------

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        match: Match | None = scope[_MATCH]
        status: _Status = scope["duralua.status"]
        if match is None:
            await _plain(send, 404, "404 page not found")
            return
        if match.endpoint is None:
            await _plain(send, 405, "method not allowed", [(b"allow", ", ".join(match.allowed).encode())])
            return
        body = await self._read_body(scope, receive, send, status)
        if body is None:
            return
        ep = match.endpoint
        query = scope.get("query_string", b"").decode("latin-1")
        ex = Exchange(method=scope["method"], path=scope["path"], raw_query=query, headers=list(scope["headers"]),
                      client=scope.get("client"), scheme=scope.get("scheme", "http"), body=body,
                      params=match.params, send=send, receive=receive)  # fmt: skip
        value, failure, timed_out = await self._call(ep.func, ex)
        if timed_out:
            ex.closed = True
            status.note = f"handler {ep.func} did not answer within timeouts.write"
            if ex.started:
                await ex.abort_stream()
            else:
                await _plain(send, 503, f"handler did not answer within {self.cfg.write_timeout_s:g}s")
            return
        if failure is not None:
            status.note = f"{ep.func}: {failure.kind + ': ' if failure.kind else ''}{failure.message}"
        await self._respond(ex, value, failure, send, status)

    async def _read_body(self, scope: Scope, receive: Receive, send: Send, status: _Status) -> bytes | None:
        limit = self.cfg.max_body
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _plain(send, 413, f"request body too large (limit {limit} bytes)")
            return None
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self.cfg.read_timeout_s):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        status.note = "client went away"
                        return None
                    part = message.get("body", b"")
                    size += len(part)
                    if size > limit:
                        await _plain(send, 413, f"request body too large (limit {limit} bytes)")
                        return None
                    if part:
                        chunks.append(part)
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            await _plain(send, 408, f"request body not received within {self.cfg.read_timeout_s:g}s")
            return None
        return b"".join(chunks)

    async def _call(self, func: str, ex: Exchange) -> tuple[JSONValue, Failure | None, bool]:
        rt = self.runtime
        try:
            call = rt.start_call(func, [], {}, values={"http": ex})
        except CallError as exc:
            return None, exc.failure, False
        if call.finished:
            return call.result, call.failure, False
        waiting = asyncio.ensure_future(rt.finish_call(call))
        timeout = self.cfg.write_timeout_s
        done, _ = await asyncio.wait({waiting}, timeout=timeout)
        if not done:
            # The call cannot be cancelled from outside; let it finish, and drop its outcome.
            self._background.add(waiting)
            waiting.add_done_callback(self._background.discard)
            return None, None, True
        value, failure = waiting.result()
        return value, failure, False

    async def _respond(self, ex: Exchange, value: JSONValue, failure: Failure | None, send: Send,
                       status: _Status) -> None:  # fmt: skip
        if ex.started:
            await ex.finish_stream()
            return
        ex.closed = True
        if ex.written:
            await _send_buffered(send, ex, b"".join(ex.pending))
        elif failure is not None:
            await _plain(send, 500, failure.message)
        elif isinstance(value, str):
            if "content-type" not in ex.out_headers:
                ex.set_header("Content-Type", "application/json")
            await _send_buffered(send, ex, value.encode("utf-8"))
        else:
            what = "nothing" if value is None else "a table" if isinstance(value, (dict, list)) else repr(value)
            status.note = f"no response sent (the handler returned {what})"
            await _plain(send, 500, "no response sent")


async def _send_buffered(send: Send, ex: Exchange, data: bytes) -> None:
    status = ex.status
    bodyless = status < 200 or status in (204, 304)
    if bodyless:
        data = b""
    elif data and "content-type" not in ex.out_headers:
        ex.set_header("Content-Type", "text/plain; charset=utf-8")
    await send(ex.start_message(length=None if bodyless else len(data)))
    await send({"type": "http.response.body", "body": data})


async def _plain(send: Send, status: int, text: str, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = text.encode("utf-8", "replace") + b"\n"
    headers = [_TEXT, (b"content-length", str(len(body)).encode()), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
