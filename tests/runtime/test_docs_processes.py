"""docs/processes.md is executable: its commands run and print what it shows, its Lua is the
example app's (examples/processes), and the example app passes `duralua check`."""

from __future__ import annotations

import doctest
import json
import shlex
from pathlib import Path
from typing import Any

import pytest

from tests.acceptance.cli_support import duralua_cli, serve
from tests.acceptance.test_docs import REPO, Block, blocks

PAGE = REPO / "docs" / "processes.md"
EXAMPLE = REPO / "examples" / "processes"
BLOCKS = blocks(PAGE)
_LINES = PAGE.read_text(encoding="utf-8").splitlines()


def _served(block: Block) -> str | None:
    """The app a console block runs against (``<!-- served: DIR -->`` above it)."""
    above = _LINES[block.line - 2].strip() if block.line >= 2 else ""
    if above.startswith("<!-- served:") and above.endswith("-->"):
        return above[len("<!-- served:") : -3].strip()
    return None


def _commands(block: Block) -> list[tuple[list[str], str]]:
    out: list[tuple[list[str], str]] = []
    for line in block.text.splitlines():
        if line.startswith("$ "):
            out.append((shlex.split(line[2:]), ""))
        elif out:
            argv, expected = out[-1]
            out[-1] = (argv, expected + line + "\n")
    return out


def _same(expected: Any, actual: Any) -> bool:
    """JSON equality where the string "..." stands for any value."""
    if expected == "...":
        return True
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and expected.keys() == actual.keys()
            and all(_same(v, actual[k]) for k, v in expected.items())
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(_same(e, a) for e, a in zip(expected, actual, strict=True))
        )
    return bool(expected == actual)


def _check_output(argv: list[str], expected: str, stdout: str) -> None:
    text = expected.strip()
    if text[:1] in "[{":
        assert _same(json.loads(text), json.loads(stdout)), (argv, stdout)
        return
    checker = doctest.OutputChecker()
    assert checker.check_output(expected, stdout, doctest.ELLIPSIS), (argv, stdout)


CONSOLE = [b for b in BLOCKS if b.lang == "console"]


@pytest.mark.parametrize("block", CONSOLE, ids=lambda b: b.where)
def test_documented_commands(block: Block, tmp_path: Path) -> None:
    app = _served(block)
    commands = _commands(block)
    assert commands, block.where
    if app is None:
        for argv, expected in commands:
            assert argv[0] == "duralua"
            proc = duralua_cli(*argv[1:], cwd=REPO)
            assert proc.returncode == 0, proc.stderr
            assert "Traceback" not in proc.stderr
            _check_output(argv, expected, proc.stdout)
        return
    db = REPO / app / ".duralua" / "duralua.db"
    with serve(REPO / app, db) as served:
        served.wait_for("service demo:counter_service running")
        for argv, expected in commands:
            proc = duralua_cli(*argv[1:], cwd=REPO)
            assert proc.returncode == 0, proc.stderr
            _check_output(argv, expected, proc.stdout)


def test_file_blocks_are_the_files() -> None:
    shown = [b for b in BLOCKS if b.file is not None]
    assert shown
    for block in shown:
        assert block.file is not None
        assert block.text.strip() == (REPO / block.file).read_text(encoding="utf-8").strip(), block.where


def test_lua_blocks_are_from_the_example() -> None:
    sources = [p.read_text(encoding="utf-8") for p in EXAMPLE.rglob("*.lua")]
    lua = [b for b in BLOCKS if b.lang == "lua" and b.file is None]
    assert lua
    for block in lua:
        body = "\n".join(line for line in block.text.strip().splitlines() if not line.startswith("-- session.lua"))
        assert any(body in src for src in sources), f"{block.where} is not in {EXAMPLE}"


def test_the_example_app_passes_check() -> None:
    proc = duralua_cli("check", EXAMPLE, "--json")
    assert proc.returncode == 0, proc.stdout
    assert json.loads(proc.stdout)["problems"] == []
