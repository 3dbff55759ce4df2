"""Spans and metrics for HTTP requests: an ASGI middleware the HTTP server (and the UI) wraps
its app in. ``traceparent`` request headers are honoured, so a trace started by an upstream
caller goes on through the handler and into the workflows it starts."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from . import Telemetry

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class TelemetryMiddleware:
    """``TelemetryMiddleware(app, telemetry)``: one SERVER span and one metrics sample per request.

    Without tracing or metrics configured it passes requests straight through. Paths in
    ``skip`` (``/metrics`` by default: scrapes are not traffic) are not recorded.
    """

    def __init__(self, app: ASGIApp, telemetry: Telemetry | None, *, skip: tuple[str, ...] = ("/metrics",)) -> None:
        self.app = app
        self.telemetry = telemetry
        self.skip = skip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        tel = self.telemetry
        if scope.get("type") != "http" or tel is None or not tel.active or scope.get("path") in self.skip:
            await self.app(scope, receive, send)
            return
        method = str(scope.get("method", "GET"))
        status = [500]

        async def send_wrapper(message: Message) -> None:
            if message.get("type") == "http.response.start":
                status[0] = int(message.get("status", 500))
            await send(message)

        began = time.perf_counter()
        span_cm = tel.http_span(method, str(scope.get("path", "")), _headers(scope))
        try:
            with span_cm as span:
                try:
                    await self.app(scope, receive, send_wrapper)
                finally:
                    if span is not None:
                        span.set_attribute("http.response.status_code", status[0])
                        if status[0] >= 500:
                            from opentelemetry.trace import Status, StatusCode

                            span.set_status(Status(StatusCode.ERROR))
        finally:
            if tel.metrics is not None:
                tel.metrics.http_request(method, status[0], time.perf_counter() - began)


def _headers(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.decode("latin-1").lower()
        if name in ("traceparent", "tracestate", "user-agent", "host"):
            out[name] = raw_value.decode("latin-1")
    return out
