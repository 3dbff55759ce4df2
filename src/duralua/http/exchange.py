"""One HTTP request and the response its handler builds (what ``http.request()`` and
``http.response()`` give a handler).

The request body is read completely before the handler runs (the handler's Lua code is
synchronous between yields, so it cannot wait for the socket). The response is buffered
until the handler returns, unless the handler calls ``res:flush()`` or selects a streaming
transfer: from then on the status and headers are sent, and every flush sends what was
written since as a chunk (``Transfer-Encoding: chunked``, or server-sent events).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[Any]]

TRANSFER_CHUNKED = "chunked"
TRANSFER_SSE = "sse"


def canonical(name: str) -> str:
    """Go's canonical header form: ``content-type`` -> ``Content-Type``."""
    return "-".join(p[:1].upper() + p[1:].lower() for p in name.split("-"))


class Exchange:
    """The request (read-only) and the response (being written) of one handler call."""

    def __init__(
        self,
        *,
        method: str,
        path: str,
        raw_query: str,
        headers: list[tuple[bytes, bytes]],
        client: tuple[str, int] | None,
        scheme: str,
        body: bytes,
        params: dict[str, str],
        send: Send,
        receive: Receive | None = None,
    ) -> None:
        self.method = method
        self.path = path
        self.raw_query = raw_query
        self.scheme = scheme
        self.body = body
        self.params = params
        self.remote_addr = f"{client[0]}:{client[1]}" if client else ""
        self._raw_headers = headers
        self._headers: dict[str, list[str]] | None = None
        self._query: dict[str, list[str]] | None = None
        # response
        self.status = 200
        self.out_headers: dict[str, tuple[str, str]] = {}  # lower name -> (name, value)
        self.pending: list[bytes] = []
        self.written = False  # write/write_json/flush called: the handler answered
        self.transfer: str | None = None
        self.closed = False  # the handler's call is over: late writes are refused
        self.disconnected = False
        self._send = send
        self._receive = receive
        self._watch: asyncio.Task[None] | None = None
        self._stream: asyncio.Queue[dict[str, Any] | None] | None = None
        self._pump: asyncio.Task[None] | None = None
        self.stream_error: BaseException | None = None
        self.lua_handle = 0  # how Lua refers to this exchange (duralua.lua.modules.http)

    # -- request ---------------------------------------------------------------------------

    @property
    def headers(self) -> dict[str, list[str]]:
        if self._headers is None:
            out: dict[str, list[str]] = {}
            for k, v in self._raw_headers:
                out.setdefault(k.decode("latin-1").lower(), []).append(v.decode("latin-1"))
            self._headers = out
        return self._headers

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None

    @property
    def query(self) -> dict[str, list[str]]:
        if self._query is None:
            out: dict[str, list[str]] = {}
            for k, v in parse_qsl(self.raw_query, keep_blank_values=True):
                out.setdefault(k, []).append(v)
            self._query = out
        return self._query

    @property
    def host(self) -> str:
        return self.header("host") or ""

    @property
    def content_type(self) -> str | None:
        return self.header("content-type")

    @property
    def content_length(self) -> int:
        return len(self.body)

    def is_content_type(self, mime: str) -> bool:
        ct = self.content_type
        if ct is None:
            return False
        return ct.split(";", 1)[0].strip().lower() == mime.split(";", 1)[0].strip().lower()

    def accepts(self, mime: str) -> bool:
        accept = self.header("accept")
        if not accept:
            return True
        want = mime.split(";", 1)[0].strip().lower()
        major = want.split("/", 1)[0]
        for part in accept.split(","):
            item, *params = (p.strip() for p in part.split(";"))
            if any(p.replace(" ", "") in ("q=0", "q=0.0", "q=0.00", "q=0.000") for p in params):
                continue
            item = item.lower()
            if item in ("*/*", want, f"{major}/*"):
                return True
        return False

    # -- response --------------------------------------------------------------------------

    @property
    def started(self) -> bool:
        """Status and headers are on the wire: they can no longer change."""
        return self._stream is not None

    def set_header(self, name: str, value: str) -> None:
        self.out_headers[name.lower()] = (canonical(name), value)

    def write(self, data: bytes) -> None:
        self.written = True
        if data:
            self.pending.append(data)
        if self.transfer is not None:
            self.flush()

    def flush(self) -> None:
        """Send the head (first time) and what was written since the last flush."""
        self.written = True
        if self._stream is None:
            self._stream = asyncio.Queue()
            self._stream.put_nowait(self.start_message(chunked=True))
            loop = asyncio.get_running_loop()
            self._pump = loop.create_task(self._drain())
            if self._receive is not None:
                self._watch = loop.create_task(self._watch_disconnect(self._receive))
        if self.pending:
            chunk = b"".join(self.pending)
            self.pending.clear()
            self._stream.put_nowait({"type": "http.response.body", "body": chunk, "more_body": True})

    def start_message(self, *, chunked: bool = False, length: int | None = None) -> dict[str, Any]:
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in self.out_headers.values()]
        if chunked:
            headers = [h for h in headers if h[0].lower() != b"content-length"]
        elif length is not None:
            headers = [h for h in headers if h[0].lower() != b"content-length"]
            headers.append((b"content-length", str(length).encode()))
        return {"type": "http.response.start", "status": self.status, "headers": headers}

    async def _watch_disconnect(self, receive: Receive) -> None:
        # The server drops what is sent to a client that left: a streaming handler learns it
        # from the next write's error, which is how an endless SSE loop ends.
        while True:
            message = await receive()
            if message.get("type") == "http.disconnect":
                self.disconnected = True
                return

    async def _drain(self) -> None:
        queue = self._stream
        assert queue is not None
        while True:
            message = await queue.get()
            if message is None:
                return
            try:
                await self._send(message)
            except Exception as exc:  # the client went away mid-stream
                self.stream_error = exc
                self.disconnected = True
                return

    async def finish_stream(self) -> None:
        """The handler is done: send the rest and end the chunked body."""
        assert self._stream is not None and self._pump is not None
        self.closed = True
        if self.pending:
            self._stream.put_nowait({"type": "http.response.body", "body": b"".join(self.pending), "more_body": True})
            self.pending.clear()
        self._stream.put_nowait({"type": "http.response.body", "body": b"", "more_body": False})
        self._stream.put_nowait(None)
        await self._pump
        await self._stop_watching()

    async def _stop_watching(self) -> None:
        if self._watch is not None and not self._watch.done():
            self._watch.cancel()
            try:
                await self._watch
            except asyncio.CancelledError:
                pass

    async def abort_stream(self) -> None:
        if self._pump is not None and not self._pump.done():
            self._pump.cancel()
            try:
                await self._pump
            except asyncio.CancelledError:
                pass
        await self._stop_watching()
