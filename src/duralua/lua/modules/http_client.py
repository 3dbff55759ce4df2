"""The ``http_client`` module (spec runtime-modules.md §6) on httpx.

Every request is a host op answered on the event loop of the call (function, process or
activity), so it never blocks the loop that serves other calls. Inside a workflow the module
loads (a library may require it) but every function answers ``nil, err``: do HTTP in an
activity.

Any status (4xx and 5xx too) is a response table, never an error, as in Wippy. Transport
failures (refused, DNS, timeout, bad URL, body too large) are ``Internal`` errors with
``retryable = true``, so an activity's retry policy retries them. duralua extension:
``fail_on_status = true`` turns a status >= 400 into ``nil, err`` with ``details =
{status_code =, body =}``: 5xx, 408 and 429 are retryable (``Unavailable``, ``Timeout``,
``RateLimited``), other 4xx are not (``Invalid``, ``PermissionDenied``, ``NotFound``,
``Conflict``), so an activity can ``return nil, err`` and let the policy decide.
"""

from __future__ import annotations

import asyncio
import functools
import re
import ssl
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus, unquote_to_bytes

from ...durations import SECOND, DurationError, parse_go
from ...errors import (
    CONFLICT,
    INTERNAL,
    INVALID,
    NOT_FOUND,
    PERMISSION_DENIED,
    RATE_LIMITED,
    TIMEOUT,
    UNAVAILABLE,
    Failure,
)
from ..context import HostContext
from ..convert import LuaState, state_of
from ._ops import MODULE_OPS, OpCaller, host_op
from ._support import ArgError, error_value, lua_source, pyfn, type_name

if TYPE_CHECKING:
    import httpx

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MAX_BODY = 120 * 1024 * 1024
REFUSED = (
    "http_client is not available inside a workflow (its results would not replay): "
    "make the request in an activity (funcs.call of a function entry)"
)
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


@functools.cache
def _tls() -> ssl.SSLContext:
    # Building a default TLS context costs milliseconds: once per process, not per request.
    return ssl.create_default_context()


def _timeout_s(value: Any) -> float:
    """Wippy's rule: a number is whole seconds (fractions truncate, 0 -> default); a string is
    a Go duration; anything invalid -> the default."""
    if isinstance(value, bool):
        return DEFAULT_TIMEOUT_S
    if isinstance(value, (int, float)):
        return float(int(value)) if int(value) > 0 else DEFAULT_TIMEOUT_S
    if isinstance(value, str):
        try:
            ns = parse_go(value)
        except DurationError:
            return DEFAULT_TIMEOUT_S
        return ns / SECOND if ns > 0 else DEFAULT_TIMEOUT_S
    return DEFAULT_TIMEOUT_S


def _canonical(name: str) -> str:
    return "-".join(p[:1].upper() + p[1:].lower() for p in name.split("-"))


def _strs(value: Any) -> dict[str, str]:
    return {str(k): v for k, v in value.items() if isinstance(v, str)} if isinstance(value, dict) else {}


def _bytes(opts: dict[str, Any], key: str) -> bytes | None:
    if isinstance(opts.get(key + "_hex"), str):
        return bytes.fromhex(opts[key + "_hex"])
    value = opts.get(key)
    return value.encode("utf-8") if isinstance(value, str) else None


def _transport_error(method: str, url: str, text: str) -> Failure:
    return Failure(f'{method.title()} "{url}": {text}', INTERNAL, True)


_STATUS_KINDS = {400: INVALID, 401: PERMISSION_DENIED, 403: PERMISSION_DENIED, 404: NOT_FOUND, 408: TIMEOUT,
                 409: CONFLICT, 422: INVALID, 429: RATE_LIMITED}  # fmt: skip


def status_failure(method: str, url: str, status: int, reason: str, body: bytes) -> Failure:
    """The error of ``fail_on_status``: transient statuses are retryable, client errors not."""
    transient = status >= 500 or status in (408, 429)
    kind = UNAVAILABLE if status >= 500 else _STATUS_KINDS.get(status, INVALID)
    text = body[:2048].decode("utf-8", "replace")
    return Failure(f'{method.title()} "{url}": status {status} {reason}'.rstrip(), kind, transient,
                   details={"status_code": status, "body": text})  # fmt: skip


class _TooLarge(Exception):
    pass


async def _send(client: httpx.AsyncClient, req: Any) -> tuple[Any, Failure | None]:
    import httpx

    method = str(req.get("method", "GET"))
    url = str(req.get("url", ""))
    opts = req.get("options")
    opts = opts if isinstance(opts, dict) else {}
    if opts.get("unsupported"):
        what = f"http_client: option {opts['unsupported']!r} is not supported by duralua"
        return None, Failure(what, INTERNAL, False)
    headers = _strs(opts.get("headers"))
    cookies = _strs(opts.get("cookies"))
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    content: bytes | None = None
    data: dict[str, str] | None = None
    files: list[tuple[str, tuple[str, bytes, str]]] | None = None
    form = _strs(opts.get("form"))
    if isinstance(opts.get("files"), list):
        files = []
        for f in opts["files"]:
            body = _bytes(f, "content") if isinstance(f, dict) else None
            if body is not None:
                files.append((str(f["name"]), (str(f.get("filename") or f["name"]), body, "application/octet-stream")))
        data = form or None
    elif form:
        data = form
    else:
        content = _bytes(opts, "body")
    auth = opts.get("auth")
    basic = (str(auth.get("user", "")), str(auth.get("pass", ""))) if isinstance(auth, dict) else None
    limit = opts.get("max_response_body")
    max_body = int(limit) if isinstance(limit, (int, float)) and limit > 0 else DEFAULT_MAX_BODY
    timeout = _timeout_s(opts.get("timeout"))
    try:
        target = httpx.URL(url)
        query = _strs(opts.get("query"))
        if query:
            target = target.copy_merge_params(query)
        request = client.build_request(method, target, headers=headers, content=content, data=data, files=files,
                                       timeout=timeout)  # fmt: skip
        async with asyncio.timeout(timeout):
            response = await client.send(request, stream=True, auth=httpx.BasicAuth(*basic) if basic else None)
            try:
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > max_body:
                        raise _TooLarge(f"response body too large (max {max_body} bytes)")
                    chunks.append(chunk)
            finally:
                await response.aclose()
    except _TooLarge as exc:
        return None, _transport_error(method, url, str(exc))
    except (TimeoutError, httpx.TimeoutException):
        return None, _transport_error(method, url, f"context deadline exceeded (Client.Timeout {timeout:g}s exceeded)")
    except httpx.InvalidURL as exc:
        return None, _transport_error(method, url, f"invalid URL: {exc}")
    except httpx.HTTPError as exc:
        return None, _transport_error(method, url, str(exc) or type(exc).__name__)
    except (OSError, ValueError) as exc:
        return None, _transport_error(method, url, str(exc) or type(exc).__name__)
    body = b"".join(chunks)
    if opts.get("fail_on_status") and response.status_code >= 400:
        return None, status_failure(method, str(response.url), response.status_code, response.reason_phrase, body)
    out: dict[str, Any] = {"status_code": response.status_code, "url": str(response.url), "body_size": len(body)}
    if body:
        out["body"] = body
    first: dict[str, str] = {}
    for k, v in response.headers.multi_items():
        first.setdefault(_canonical(k), v)
    if first:
        out["headers"] = first
    jar = {c.name: c.value or "" for c in response.cookies.jar}
    if jar:
        out["cookies"] = jar
    return out, None


def _client() -> httpx.AsyncClient:
    # One client per op (closed after it): a pooled client would outlive the event loop of a
    # synchronous App.call, leaving sockets that nothing closes.
    import httpx  # imported on first use: most apps never make a request

    return httpx.AsyncClient(verify=_tls(), follow_redirects=True, max_redirects=10)


def _request_op(caller: OpCaller, req: Any = None, *_: Any) -> Callable[[], Awaitable[tuple[Any, ...]]]:
    async def run() -> tuple[Any, ...]:
        async with _client() as client:
            return await _send(client, req if isinstance(req, dict) else {})

    return run


def _batch_op(caller: OpCaller, reqs: Any = None, *_: Any) -> Callable[[], Awaitable[tuple[Any, ...]]]:
    async def run() -> tuple[Any, ...]:
        items = reqs if isinstance(reqs, list) else []
        async with _client() as client:
            results = await asyncio.gather(*(_send(client, r) for r in items))
        responses = [r for r, _ in results]
        errors = [e for _, e in results]
        return responses, (errors if any(e is not None for e in errors) else None)

    return run


MODULE_OPS["http_client.request"] = _request_op
MODULE_OPS["http_client.batch"] = _batch_op


def _setup(st: LuaState, refused: str | None) -> Any:
    def encode_uri(s: Any = None, *_: Any) -> Any:
        if not isinstance(s, bytes):
            raise ArgError(f"http_client.encode_uri: string expected, got {type_name(s)}")
        return quote_plus(s, safe="")

    def decode_uri(s: Any = None, *_: Any) -> Any:
        if not isinstance(s, str):
            raise ArgError(f"http_client.decode_uri: string expected, got {type_name(s)}")
        bad = _BAD_ESCAPE.search(s)
        if bad is not None:
            return None, error_value(st, INVALID, f'invalid URL escape "{s[bad.start() : bad.start() + 3]}"', False)
        return unquote_to_bytes(s.replace("+", " ")), None

    calls: dict[str, Callable[..., Any]] = {"decode_uri": decode_uri, "host_op": lambda: host_op(st) or False}

    def dispatch(name: str, *args: Any) -> Any:
        return calls[name](*args)

    return st.execute(lua_source("http_client.lua"), st.core, pyfn(st, dispatch), pyfn(st, encode_uri, 1),
                      refused or False, name="=duralua.http_client")  # fmt: skip


def install(lua: Any, ctx: HostContext) -> Any:
    st = state_of(lua)
    refused = REFUSED if ctx.deterministic else None
    key = "http_client.refused" if refused else "http_client"
    return st.core.copy(st.cached(key, lambda: _setup(st, refused)))
