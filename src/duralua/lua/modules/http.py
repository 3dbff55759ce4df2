"""The ``http`` module (spec lua-modules.md §15): the request and response of an HTTP handler.

``http.request()`` / ``http.response()`` find the exchange through the host op
``http.exchange``: the function runtime answers it from the host values of the *current*
call only, so concurrent requests never see each other's objects, and functions or
processes a handler calls get ``nil, err`` (no HTTP context), as in Wippy.

Bodies are bytes: ``req:body()`` returns the raw bytes as a Lua string (Lua strings are byte
strings; binary uploads arrive unchanged) and ``res:write(s)`` sends the bytes of ``s`` as
they are. Text is not re-encoded either way. Response methods return ``nil`` on success or an
error object (``Invalid`` for bad arguments, ``Internal`` once the response is complete or
the client left). ``res:status(code)``, ``res:json(v)`` and ``res:header(k, v)`` are the
seed documents' chained style: they return the response and raise on error.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable
from typing import Any, Protocol

from ...codec import dumps
from ...errors import INTERNAL, INVALID, EncodeError, Failure
from ..context import HostContext
from ..convert import LuaState, state_of, to_lua, to_python
from ._ops import MODULE_OPS, OpCaller, host_op
from ._support import ArgError, error_value, lua_source, pyfn
from .json import loads

NO_CONTEXT = "no HTTP context: http.request()/http.response() work only in the handler of an http.endpoint"


class HttpExchange(Protocol):
    """What this module needs of :class:`duralua.http.exchange.Exchange`."""

    method: str
    path: str
    scheme: str
    body: bytes
    params: dict[str, str]
    remote_addr: str
    status: int
    out_headers: dict[str, tuple[str, str]]
    transfer: str | None
    closed: bool
    disconnected: bool

    @property
    def headers(self) -> dict[str, list[str]]: ...
    @property
    def query(self) -> dict[str, list[str]]: ...
    @property
    def host(self) -> str: ...
    @property
    def content_type(self) -> str | None: ...
    @property
    def content_length(self) -> int: ...
    @property
    def started(self) -> bool: ...
    def header(self, name: str) -> str | None: ...
    def accepts(self, mime: str) -> bool: ...
    def is_content_type(self, mime: str) -> bool: ...
    def set_header(self, name: str, value: str) -> None: ...
    def write(self, data: bytes) -> None: ...
    def flush(self) -> None: ...


# Lua holds an exchange as an integer handle (only plain values cross into Lua); the weak
# table forgets an exchange once its request is over.
_LIVE: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()
_HANDLES = itertools.count(1)
_OVER = "http: this request is over (the handler that received it has returned)"


def _exchange_op(caller: OpCaller, *_: Any) -> tuple[Any, ...]:
    ex = getattr(caller, "values", {}).get("http")  # hosts without per-call values: no context
    if ex is None:
        return (None, Failure(NO_CONTEXT, INTERNAL, False))
    handle = getattr(ex, "lua_handle", 0)
    if not handle:
        handle = next(_HANDLES)
        ex.lua_handle = handle
        _LIVE[handle] = ex
    return (handle, None)


MODULE_OPS["http.exchange"] = _exchange_op


def _canonical(name: str) -> str:
    return "-".join(p[:1].upper() + p[1:].lower() for p in name.split("-"))


def _setup(st: LuaState) -> Any:
    lua = st.lua

    def err(kind: str, message: str) -> Any:
        return error_value(st, kind, message, False)

    def fields(x: HttpExchange, name: str) -> Any:
        if name == "has_body":
            return len(x.body) > 0
        return getattr(x, name)

    def writable(x: HttpExchange, what: str, head: bool = False) -> Any:
        if x.closed:
            return err(INTERNAL, f"{what}: the response is complete (the handler has returned)")
        if x.disconnected:
            return err(INTERNAL, f"{what}: the client has disconnected")
        if head and x.started:
            return err(INTERNAL, f"{what}: the status and headers were already sent (res:flush)")
        return None

    def set_status(x: HttpExchange, code: Any = None) -> Any:
        problem = writable(x, "res:set_status", head=True)
        if problem is not None:
            return problem
        if isinstance(code, float) and code.is_integer():
            code = int(code)
        if not isinstance(code, int) or isinstance(code, bool) or not 100 <= code <= 599:
            return err(INVALID, f"res:set_status: status must be an integer from 100 to 599, got {code!r}")
        x.status = code
        return None

    def set_header(x: HttpExchange, name: Any = None, value: Any = None) -> Any:
        problem = writable(x, "res:set_header", head=True)
        if problem is not None:
            return problem
        if not isinstance(name, str) or not name or any(c in name for c in " \t\r\n:"):
            return err(INVALID, f"res:set_header: header name must be a non-empty token, got {name!r}")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(int(value) if isinstance(value, float) and value.is_integer() else value)
        if not isinstance(value, str) or "\r" in value or "\n" in value:
            return err(INVALID, f"res:set_header: value of {name} must be a string without line breaks")
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            return err(INVALID, f"res:set_header: value of {name} must be Latin-1 text (encode it, e.g. URL-escape)")
        x.set_header(name, value)
        return None

    def set_content_type(x: HttpExchange, value: Any = None) -> Any:
        return set_header(x, "Content-Type", value)

    def write(x: HttpExchange, data: bytes) -> Any:
        problem = writable(x, "res:write")
        if problem is not None:
            return problem
        x.write(data)
        return None

    def write_json(x: HttpExchange, value: Any = None) -> Any:
        problem = writable(x, "res:write_json")
        if problem is not None:
            return problem
        try:
            text = dumps(to_python(value))
        except EncodeError as exc:
            return err(INTERNAL, f"res:write_json: {exc}")
        if "content-type" not in x.out_headers and not x.started:
            x.set_header("Content-Type", "application/json")
        x.write(text.encode("utf-8"))
        return None

    def flush(x: HttpExchange) -> Any:
        problem = writable(x, "res:flush")
        if problem is not None:
            return problem
        x.flush()
        return None

    def set_transfer(x: HttpExchange, mode: Any = None) -> Any:
        problem = writable(x, "res:set_transfer", head=True)
        if problem is not None:
            return problem
        if mode not in ("chunked", "sse"):
            return err(INVALID, f"res:set_transfer: mode must be http.TRANSFER.CHUNKED or SSE, got {mode!r}")
        if mode == "sse":
            x.set_header("Content-Type", "text/event-stream")
            x.set_header("Cache-Control", "no-cache")
        x.transfer = str(mode)
        return None

    def write_event(x: HttpExchange, name: Any = None, data: Any = None, ev_id: Any = None, retry: Any = None) -> Any:
        problem = writable(x, "res:write_event")
        if problem is not None:
            return problem
        if x.transfer != "sse":
            if x.started:
                return err(INTERNAL, "res:write_event: the response is already streaming without SSE")
            set_transfer(x, "sse")
        lines: list[str] = []
        for label, v in (("id", ev_id), ("event", name)):
            if v is not None:
                if not isinstance(v, (str, int)) or "\n" in str(v) or "\r" in str(v):
                    return err(INVALID, f"res:write_event: {label} must be a single-line string")
                lines.append(f"{label}: {v}")
        if retry is not None:
            if not isinstance(retry, (int, float)) or isinstance(retry, bool):
                return err(INVALID, "res:write_event: retry must be a number of milliseconds")
            lines.append(f"retry: {int(retry)}")
        if data is not None:
            if isinstance(data, str):
                text = data
            else:
                try:
                    text = dumps(to_python(data))
                except EncodeError as exc:
                    return err(INTERNAL, f"res:write_event: {exc}")
            lines.extend(f"data: {line}" for line in text.replace("\r\n", "\n").split("\n"))
        x.write(("\n".join(lines) + "\n\n").encode("utf-8"))
        return None

    def body(x: HttpExchange) -> Any:
        return x.body, None

    def body_json(x: HttpExchange) -> Any:
        if not x.body:
            return None, err(INVALID, "request body is empty (expected JSON)")
        try:
            return to_lua(lua, loads(x.body)), None
        except (ValueError, UnicodeDecodeError) as exc:
            return None, err(INVALID, f"invalid JSON body: {exc}")

    def check_body(x: HttpExchange, _timeout: Any = None, max_body: Any = None) -> Any:
        # The body was read (within the service's timeouts.read) before the handler ran.
        if isinstance(max_body, (int, float)) and not isinstance(max_body, bool) and 0 < max_body < len(x.body):
            return err(INVALID, f"request body too large (max {int(max_body)} bytes)")
        return None

    def query_params(x: HttpExchange) -> Any:
        return to_lua(lua, {k: ",".join(v) for k, v in x.query.items()})

    def query(x: HttpExchange, name: str) -> Any:
        values = x.query.get(name)
        return values[0] if values else None

    def headers(x: HttpExchange) -> Any:
        return to_lua(lua, {_canonical(k): ", ".join(v) for k, v in x.headers.items()})

    with_exchange: dict[str, Callable[..., Any]] = {
        "get": fields, "query": query, "query_params": query_params, "header": lambda x, name: x.header(name),
        "headers": headers, "param": lambda x, name: x.params.get(name),
        "params": lambda x: to_lua(lua, dict(x.params)), "body": body, "body_json": body_json,
        "accepts": lambda x, mime: x.accepts(mime), "is_content_type": lambda x, mime: x.is_content_type(mime),
        "check_body": check_body, "set_status": set_status, "set_header": set_header,
        "set_content_type": set_content_type, "write_json": write_json, "flush": flush,
        "set_transfer": set_transfer, "write_event": write_event,
    }  # fmt: skip
    plain: dict[str, Callable[..., Any]] = {"host_op": lambda: host_op(st) or False}

    def exchange_of(handle: Any) -> HttpExchange:
        ex = _LIVE.get(handle) if isinstance(handle, int) else None
        if ex is None:
            raise ArgError(_OVER)
        return ex  # type: ignore[no-any-return]

    def dispatch(name: str, *args: Any) -> Any:
        fn = with_exchange.get(name)
        if fn is not None:
            return fn(exchange_of(args[0] if args else None), *args[1:])
        return plain[name](*args)

    def write_bytes(handle: Any, data: bytes) -> Any:
        return write(exchange_of(handle), data)

    return st.execute(lua_source("http.lua"), st.core, pyfn(st, dispatch), pyfn(st, write_bytes, 2),
                      name="=duralua.http")  # fmt: skip


def install(lua: Any, ctx: HostContext) -> Any:
    st = state_of(lua)
    return st.core.copy(st.cached("http", lambda: _setup(st)))
