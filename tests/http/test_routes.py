"""Route patterns, matching, service settings and what ``duralua check`` reports for HTTP entries."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from duralua.checker import check_app
from duralua.http.config import parse_addr, parse_cors, parse_size
from duralua.http.routes import EndpointDef, PatternError, RouteTable, normalize_prefix, parse_pattern, shape
from duralua.registry.model import Entry


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("orders", "path must start with /, got 'orders'"),
        ("/a//b", "path '/a//b' has an empty segment (//)"),
        ("/files/x{name}", "segment 'x{name}' mixes text and a parameter"),
        ("/files/{1x}", "'{1x}' is not a parameter"),
        ("/files/{}", "'{}' is not a parameter"),
        ("/f/{rest...}/more", "the wildcard '{rest...}' must be the last segment"),
        ("/u/{id}/v/{id}", "parameter 'id' appears twice"),
    ],
)
def test_bad_patterns(path: str, message: str) -> None:
    with pytest.raises(PatternError, match=re.escape(message)):
        parse_pattern(path)


def test_prefixes() -> None:
    assert normalize_prefix(None) == "" and normalize_prefix("/") == ""
    assert normalize_prefix("/api/") == "/api"
    for bad in ("api", "/a/{x}", "/a//b"):
        with pytest.raises(PatternError):
            normalize_prefix(bad)


def _ep(method: str, path: str, name: str = "") -> EndpointDef:
    entry = Entry(id=f"t:{name or path}", namespace="t", name=name or path, kind="http.endpoint", meta={},
                  data={}, file="x.yaml", line=1)  # fmt: skip
    return EndpointDef(entry.id, "t:r", method, path, parse_pattern(path), "t:f", entry)


def test_matching_prefers_literal_then_parameter_then_rest() -> None:
    table = RouteTable([
        _ep("GET", "/users/me", "me"), _ep("GET", "/users/{id}", "one"), _ep("DELETE", "/users/{uid}", "del"),
        _ep("GET", "/files/{rest...}", "files"), _ep("GET", "/", "root"), _ep("POST", "/users/", "slash"),
    ])  # fmt: skip

    def hit(method: str, path: str) -> Any:
        m = table.match(method, path)
        return None if m is None else (m.endpoint.id if m.endpoint else None, m.params, m.allowed)

    assert hit("GET", "/users/me") == ("t:me", {}, [])
    assert hit("GET", "/users/42") == ("t:one", {"id": "42"}, [])
    assert hit("DELETE", "/users/me") == ("t:del", {"uid": "me"}, [])  # literal has no DELETE: the param route
    assert hit("GET", "/users/a%2Fb") == ("t:one", {"id": "a/b"}, [])  # an escaped slash stays in the segment
    assert hit("HEAD", "/users/7") == ("t:one", {"id": "7"}, [])
    assert hit("PUT", "/users/7") == (None, {}, ["GET", "DELETE", "HEAD"])
    assert hit("GET", "/files/a/b/c") == ("t:files", {}, [])  # the wildcard is not a param
    assert hit("GET", "/files/") == ("t:files", {}, [])
    assert hit("GET", "/files") is None
    assert hit("GET", "/") == ("t:root", {}, [])
    assert hit("POST", "/users/") == ("t:slash", {}, [])
    assert hit("GET", "/nope") is None
    assert shape(parse_pattern("/u/{a}/{b...}")) == "/u/{}/{...}"


def test_service_settings() -> None:
    assert parse_addr(":8080") == ("0.0.0.0", 8080)
    assert parse_addr("127.0.0.1:0") == ("127.0.0.1", 0)
    assert parse_addr("[::1]:9000") == ("::1", 9000)
    for bad in ("8080", "host:http", ":70000", "", "[::1]"):
        with pytest.raises(ValueError):
            parse_addr(bad)
    assert parse_size("10MB", "max_body") == 10 * 1024 * 1024
    assert parse_size("512KiB", "max_body") == 512 * 1024
    assert parse_size(100, "max_body") == 100
    for bad_size in ("ten", 0, -1, True, "1TB"):
        with pytest.raises(ValueError):
            parse_size(bad_size, "max_body")
    cors, notes = parse_cors({"cors.allow.origins": "https://a, https://b", "cors.max.age": "1m",
                              "cors.allow.credentials": "true", "cors.allow.colour": "x"})  # fmt: skip
    assert cors.allow_origins == ["https://a", "https://b"] and cors.max_age == 60 and cors.allow_credentials
    assert notes == ["router option 'cors.allow.colour' is not a cors option duralua knows (ignored)"]
    with pytest.raises(ValueError, match=re.escape("cors.allow.credentials must be true or false")):
        parse_cors({"cors.allow.credentials": "yes"})


APP = """version: "1.0"
namespace: t
entries:
  - {name: srv, kind: http.service, addr: "127.0.0.1:0"}
  - {name: srv2, kind: http.service, addr: "127.0.0.1:0", max_body: lots}
  - {name: bad_addr, kind: http.service, addr: "localhost"}
  - {name: api, kind: http.router, meta: {server: srv}, prefix: /api, middleware: [cors, token_auth]}
  - {name: api2, kind: http.router, meta: {server: srv}, prefix: /api}
  - {name: other, kind: http.router, meta: {server: srv2}, prefix: /api}
  - {name: badpre, kind: http.router, meta: {server: srv}, prefix: "/v/{x}"}
  - {name: badcors, kind: http.router, meta: {server: srv}, middleware: [cors], options: {cors.max.age: "soon"}}
  - {name: h, kind: function.lua, source: file://h.lua, method: h}
  - {name: a, kind: http.endpoint, meta: {router: api}, method: GET, path: "/orders/{id}", func: h}
  - {name: b, kind: http.endpoint, meta: {router: api2}, method: GET, path: "/orders/{order}", func: h}
  - {name: c, kind: http.endpoint, meta: {router: other}, method: GET, path: "/orders/{id}", func: h}
  - {name: d, kind: http.endpoint, meta: {router: api}, method: POST, path: "/files/{rest...}/x", func: h}
"""


def _check(tmp_path: Path, yaml: str) -> set[tuple[str, str | None, str]]:
    (tmp_path / "wippy.lock").write_text("directories:\n  src: ./src\n")
    src = tmp_path / "src"
    src.mkdir()
    (src / "h.lua").write_text("return {h = function() end}\n")
    (src / "_index.yaml").write_text(yaml)
    return {(p.severity, p.location.entry, p.message) for p in check_app(tmp_path)}


def test_check_reports_route_problems(tmp_path: Path) -> None:
    found = _check(tmp_path, APP)
    assert ("error", "t:b", "duplicate route GET /api/orders/{order} on t:srv: also served by t:a "
            "(src/_index.yaml:13)") in found  # fmt: skip
    assert not any(entry == "t:c" for _, entry, _ in found)  # same path on another service is fine
    assert ("error", "t:d", "path '/files/{rest...}/x': the wildcard '{rest...}' must be the last segment") in found
    assert ("error", "t:badpre", "prefix '/v/{x}' cannot contain parameters (put them in the endpoint path)") in found
    assert ("warning", "t:api", "middleware 'token_auth' is not supported by duralua and is NOT applied "
            "(supported: cors)") in found  # fmt: skip
    assert any(e == "t:badcors" and "cors.max.age" in m for _, e, m in found)
    assert any(e == "t:srv2" and m.startswith("max_body must be a positive size") for _, e, m in found)
    assert ("error", "t:bad_addr",
            "addr 'localhost' has no port (use e.g. \":8080\" or \"127.0.0.1:8080\")") in found  # fmt: skip


def test_check_reports_a_func_that_is_not_a_function(tmp_path: Path) -> None:
    found = _check(
        tmp_path,
        """version: "1.0"
namespace: t
entries:
  - {name: srv, kind: http.service, addr: ":8080"}
  - {name: r, kind: http.router, meta: {server: srv}}
  - {name: wf, kind: workflow.lua, source: file://h.lua, method: h}
  - {name: e, kind: http.endpoint, meta: {router: r}, method: GET, path: /wf, func: wf}
  - {name: e2, kind: http.endpoint, meta: {router: r}, method: GET, path: /x, func: missing}
""",
    )
    assert ("error", "t:e", "func: t:wf is a workflow.lua, expected a function.lua") in found
    assert any(e == "t:e2" and "t:missing" in m for _, e, m in found)
