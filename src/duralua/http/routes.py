"""Routes of ``http.service`` / ``http.router`` / ``http.endpoint`` entries: patterns, the
per-service route table, and the problems ``duralua check`` reports.

A full route is the router's ``prefix`` + the endpoint's ``path``. Path segments are literal
text, ``{name}`` (one whole segment, exposed by ``req:param``) or a final ``{name...}``
(the rest of the path, not exposed, as in Wippy). Matching prefers literal segments over
parameters over the rest wildcard, segment by segment (the most specific route wins); a path
that matches only with other methods answers 405 with ``Allow``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from ..errors import ConfigError, Problem
from ..registry import HTTP_METHODS, Registry
from ..registry.model import Entry
from .config import CorsConfig, parse_cors, parse_service_config

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
SUPPORTED_MIDDLEWARE = frozenset({"cors"})


class PatternError(ValueError):
    """A path pattern or prefix that cannot be served; the message names the problem."""


@dataclass(frozen=True)
class Segment:
    kind: str  # "lit" | "param" | "rest"
    text: str  # the literal, or the parameter name


def parse_pattern(path: str) -> list[Segment]:
    """``/orders/{id}/files/{rest...}`` -> segments; raises :class:`PatternError`."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise PatternError(f"path must start with /, got {path!r}")
    if path == "/":
        return [Segment("lit", "")]
    parts = path[1:].split("/")
    out: list[Segment] = []
    names: set[str] = set()
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "" and not last:
            raise PatternError(f"path {path!r} has an empty segment (//)")
        if "{" not in part and "}" not in part:
            out.append(Segment("lit", part))
            continue
        if not (part.startswith("{") and part.endswith("}")):
            raise PatternError(
                f"path {path!r}: segment {part!r} mixes text and a parameter; a parameter is a whole segment, "
                "e.g. /files/{name}"
            )
        inner = part[1:-1]
        rest = inner.endswith("...")
        name = inner[:-3] if rest else inner
        if not _NAME.fullmatch(name):
            raise PatternError(f"path {path!r}: {part!r} is not a parameter (use {{name}} or a final {{name...}})")
        if rest and not last:
            raise PatternError(f"path {path!r}: the wildcard {part!r} must be the last segment")
        if name in names:
            raise PatternError(f"path {path!r}: parameter {name!r} appears twice")
        names.add(name)
        out.append(Segment("rest" if rest else "param", name))
    return out


def normalize_prefix(prefix: Any) -> str:
    """A router prefix: ``""`` or ``/a/b`` (no trailing slash, no parameters)."""
    if prefix in (None, "", "/"):
        return ""
    if not isinstance(prefix, str):
        raise PatternError(f"prefix must be a string, got {type(prefix).__name__}")
    if not prefix.startswith("/"):
        raise PatternError(f"prefix must start with /, got {prefix!r}")
    if "{" in prefix or "}" in prefix:
        raise PatternError(f"prefix {prefix!r} cannot contain parameters (put them in the endpoint path)")
    if "//" in prefix:
        raise PatternError(f"prefix {prefix!r} has an empty segment (//)")
    return prefix.rstrip("/")


def shape(segments: list[Segment]) -> str:
    """The pattern with parameter names erased: two routes with one shape collide."""
    return "/" + "/".join(s.text if s.kind == "lit" else "{}" if s.kind == "param" else "{...}" for s in segments)


# -- the model of one app's HTTP entries ------------------------------------------------------


@dataclass
class RouterDef:
    id: str
    service: str
    prefix: str
    middleware: list[str]
    options: dict[str, str]
    entry: Entry
    cors: CorsConfig | None = None


@dataclass
class EndpointDef:
    id: str
    router: str
    method: str
    path: str  # full path: prefix + endpoint path
    segments: list[Segment]
    func: str
    entry: Entry


@dataclass
class ServiceRoutes:
    """Everything one ``http.service`` serves."""

    id: str
    entry: Entry
    routers: dict[str, RouterDef] = field(default_factory=dict)
    endpoints: list[EndpointDef] = field(default_factory=list)


def _router_service(entry: Entry) -> Any:
    server = entry.meta.get("server")
    return server if server not in (None, "") else entry.data.get("server")


def _options(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    out: dict[str, str] = {}
    for k, v in value.items():
        if isinstance(v, list):
            v = ",".join(str(x) for x in v)
        elif isinstance(v, bool):
            v = "true" if v else "false"
        out[str(k)] = str(v)
    return out


def collect(registry: Registry, problems: list[Problem] | None = None) -> dict[str, ServiceRoutes]:
    """Services with their routers and endpoints. Bad routes are skipped and, when
    ``problems`` is given, reported there (one problem per entry and field)."""
    report = problems if problems is not None else []
    services: dict[str, ServiceRoutes] = {}
    for entry in registry.entries.values():
        if entry.kind == "http.service":
            services[entry.id] = ServiceRoutes(entry.id, entry)
    routers: dict[str, RouterDef] = {}
    for entry in registry.entries.values():
        if entry.kind != "http.router":
            continue
        service = services.get(str(_router_service(entry)))
        if service is None:
            continue  # the registry already reports the missing/wrong reference
        try:
            prefix = normalize_prefix(entry.data.get("prefix"))
        except PatternError as exc:
            report.append(Problem(str(exc), entry.location_of("prefix")))
            continue
        middleware = entry.data.get("middleware") or []
        if not isinstance(middleware, list) or not all(isinstance(m, str) for m in middleware):
            report.append(Problem("middleware must be a list of names, e.g. [cors]", entry.location_of("middleware")))
            middleware = []
        for name in middleware:
            if name not in SUPPORTED_MIDDLEWARE:
                report.append(Problem(
                    f"middleware {name!r} is not supported by duralua and is NOT applied "
                    f"(supported: {', '.join(sorted(SUPPORTED_MIDDLEWARE))})",
                    entry.location_of("middleware"), severity="warning",
                ))  # fmt: skip
        if entry.data.get("post_middleware"):
            report.append(Problem("post_middleware is not supported by duralua and is NOT applied",
                                  entry.location_of("post_middleware"), severity="warning"))  # fmt: skip
        options = _options(entry.data.get("options"))
        cors = None
        if "cors" in middleware:
            try:
                cors, notes = parse_cors(options)
            except ValueError as exc:
                report.append(Problem(str(exc), entry.location_of("options")))
                continue
            report.extend(Problem(n, entry.location_of("options"), severity="warning") for n in notes)
        router = RouterDef(entry.id, service.id, prefix, list(middleware), options, entry, cors)
        routers[entry.id] = router
        service.routers[entry.id] = router
    seen: dict[tuple[str, str, str], EndpointDef] = {}
    for entry in registry.entries.values():
        if entry.kind != "http.endpoint":
            continue
        owner = routers.get(str(entry.meta.get("router")))
        method, path, func = entry.data.get("method"), entry.data.get("path"), entry.data.get("func")
        if owner is None or method not in HTTP_METHODS or not isinstance(func, str) or not isinstance(path, str):
            continue  # reported by the registry (missing router, bad method, missing func or path)
        try:
            segments = parse_pattern(path)
        except PatternError as exc:
            report.append(Problem(str(exc), entry.location_of("path")))
            continue
        full = owner.prefix + (path if path != "/" or not owner.prefix else "")
        if owner.prefix:
            segments = parse_pattern(full)
        ep = EndpointDef(entry.id, owner.id, str(method), full, segments, func, entry)
        key = (owner.service, ep.method, shape(segments))
        other = seen.get(key)
        if other is not None:
            report.append(Problem(
                f"duplicate route {ep.method} {full} on {owner.service}: also served by {other.id} "
                f"({other.entry.file}:{other.entry.line})",
                entry.location_of("path"),
            ))  # fmt: skip
            continue
        seen[key] = ep
        services[owner.service].endpoints.append(ep)
    return services


def route_problems(registry: Registry) -> list[Problem]:
    """What ``duralua check`` adds for HTTP entries (beyond the registry's own checks)."""
    problems: list[Problem] = []
    services = collect(registry, problems)
    for service in services.values():
        try:
            parse_service_config(service.entry)
        except ConfigError as exc:
            problems.append(Problem(exc.message, exc.location))
    return problems


# -- matching ---------------------------------------------------------------------------------


class _Node:
    __slots__ = ("here", "lit", "param", "rest")

    def __init__(self) -> None:
        self.lit: dict[str, _Node] = {}
        self.param: _Node | None = None
        self.here: dict[str, EndpointDef] = {}  # routes ending at this node, by method
        self.rest: dict[str, EndpointDef] = {}  # {name...} routes ending below this node


@dataclass
class Match:
    endpoint: EndpointDef | None  # None: the path exists, but not for this method (405)
    params: dict[str, str]
    allowed: list[str]
    router: str  # the router whose middleware applies


class RouteTable:
    """The endpoints of one service, matched segment by segment."""

    def __init__(self, endpoints: list[EndpointDef]) -> None:
        self.root = _Node()
        self.endpoints = list(endpoints)
        for ep in endpoints:
            node = self.root
            for seg in ep.segments:
                if seg.kind == "lit":
                    node = node.lit.setdefault(seg.text, _Node())
                elif seg.kind == "param":
                    if node.param is None:
                        node.param = _Node()
                    node = node.param
                else:
                    node.rest[ep.method] = ep
                    break
            else:
                node.here[ep.method] = ep

    def match(self, method: str, raw_path: str) -> Match | None:
        """The endpoint for ``method`` and the raw (still %-escaped) path; ``None``: 404."""
        parts = raw_path[1:].split("/") if raw_path.startswith("/") else raw_path.split("/")
        allowed: list[str] = []
        router = ""
        for routes, values in self._walk(self.root, parts, 0, []):
            ep = routes.get(method)
            if ep is None and method == "HEAD":
                ep = routes.get("GET")
            if ep is not None:
                return Match(ep, _params(ep, values), [], ep.router)
            router = router or next(iter(routes.values())).router
            for m in routes:
                if m not in allowed:
                    allowed.append(m)
        if allowed:
            if "GET" in allowed and "HEAD" not in allowed:
                allowed.append("HEAD")
            return Match(None, {}, allowed, router)
        return None

    def _walk(
        self, node: _Node, parts: list[str], i: int, values: list[str]
    ) -> Iterator[tuple[dict[str, EndpointDef], list[str]]]:
        if i == len(parts):
            if node.here:
                yield node.here, values
            return
        part = parts[i]
        child = node.lit.get(unquote(part))
        if child is not None:
            yield from self._walk(child, parts, i + 1, values)
        if node.param is not None and part != "":
            yield from self._walk(node.param, parts, i + 1, [*values, unquote(part)])
        if node.rest:
            yield node.rest, values


def _params(ep: EndpointDef, values: list[str]) -> dict[str, str]:
    names = [s.text for s in ep.segments if s.kind == "param"]
    return dict(zip(names, values, strict=False))
