"""Serving ``http.service`` / ``http.router`` / ``http.endpoint`` entries (ASGI: Starlette's
middleware on Uvicorn). Each request calls the endpoint's ``function.lua`` with no arguments
in its own function call; the ``http`` Lua module gives it the request and the response."""

from __future__ import annotations

from .config import ServiceConfig, parse_service_config
from .routes import RouteTable, collect, parse_pattern, route_problems
from .server import HttpServices

__all__ = ["HttpServices", "RouteTable", "ServiceConfig", "collect", "parse_pattern", "parse_service_config",
           "route_problems"]  # fmt: skip
