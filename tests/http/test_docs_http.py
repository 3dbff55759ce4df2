"""docs/http.md is executable: its file excerpts are the example's files, and its curl session
against examples/orders_api gives the JSON shown (a real server on 127.0.0.1)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import httpx
import pytest

from duralua.checker import check_app

from .support import run, serving

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "http.md"
EXAMPLE = REPO / "examples" / "orders_api"
_FENCE = re.compile(r"^```(\w*)\s*$")
_MARKER = re.compile(r"^<!--\s*file:\s*(\S+)\s*-->\s*$")


def _blocks() -> list[tuple[str, str | None, str]]:
    lines = PAGE.read_text(encoding="utf-8").splitlines()
    out: list[tuple[str, str | None, str]] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if m is None:
            i += 1
            continue
        marker = _MARKER.match(lines[i - 1]) if i else None
        body: list[str] = []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i])
            i += 1
        out.append((m.group(1), marker.group(1) if marker else None, "\n".join(body) + "\n"))
        i += 1
    return out


BLOCKS = _blocks()


@pytest.mark.parametrize("path", [f for _, f, _ in BLOCKS if f], ids=str)
def test_excerpts_are_the_files(path: str) -> None:
    text = next(t for _, f, t in BLOCKS if f == path)
    assert text.strip() == (REPO / path).read_text(encoding="utf-8").strip(), f"docs/http.md differs from {path}"


def test_the_example_passes_check() -> None:
    assert check_app(EXAMPLE) == []


def _curl_session() -> list[tuple[list[str], str]]:
    steps: list[tuple[list[str], str]] = []
    for lang, _, text in BLOCKS:
        if lang != "console" or "$ curl" not in text:
            continue
        for line in text.splitlines():
            if line.startswith("$ curl"):
                steps.append((shlex.split(line[2:]), ""))
            elif steps:
                steps[-1] = (steps[-1][0], steps[-1][1] + line)
    return steps


def test_the_documented_session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERS_API_ADDR", "127.0.0.1:0")
    steps = _curl_session()
    assert len(steps) == 4

    async def body() -> None:
        async with serving(tmp_path / "d.db", EXAMPLE) as s, httpx.AsyncClient(timeout=30) as c:
            base = s.url("orders:gateway")
            for argv, expected in steps:
                method, data, headers, url = "GET", None, {}, ""
                args = iter(argv[1:])
                for a in args:
                    if a == "-X":
                        method = next(args)
                    elif a == "-d":
                        data = next(args)
                    elif a == "-H":
                        name, _, value = next(args).partition(": ")
                        headers[name] = value
                    elif not a.startswith("-"):
                        url = a.replace("localhost:8080", base)
                r = await c.request(method, url, content=data, headers=headers)
                assert r.json() == json.loads(expected), (argv, r.text)
            log = s.access_log("orders:gateway")
            assert [line.split(" ")[:3] for line in log] == [
                ["POST", "/api/orders", "202"], ["POST", "/api/orders", "409"],
                ["POST", "/api/orders/7/approve", "200"], ["GET", "/api/orders/7?wait=5s", "200"],
            ]  # fmt: skip

    run(body)
