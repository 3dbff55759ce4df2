"""The reference docs are executable: every example they show runs and gives the shown output.

* every app under ``docs/examples/`` passes ``duralua check`` and is used by a doc page;
* every ``$ duralua ...`` line in a ``console`` block runs (from the repository root) and
  prints the JSON (or the ``Kind: message`` error) written below it;
* every ``pycon`` block passes as a doctest (blocks of one page share their names);
* a code block preceded by ``<!-- file: path -->`` is exactly the content of that file.
"""

from __future__ import annotations

import doctest
import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
PAGES = [DOCS / "registry.md", DOCS / "lua-modules.md"]
EXAMPLES = sorted(p for p in (DOCS / "examples").iterdir() if (p / "wippy.lock").is_file())
DURALUA = Path(sys.executable).with_name("duralua")

_FENCE = re.compile(r"^```(\w*)\s*$")
_MARKER = re.compile(r"^<!--\s*file:\s*(\S+)\s*-->\s*$")


@dataclass
class Block:
    page: Path
    line: int  # line of the opening fence
    lang: str
    text: str
    file: str | None  # from a preceding <!-- file: ... --> marker

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    out: list[Block] = []
    lines = page.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if m is None:
            i += 1
            continue
        start = i
        marker = _MARKER.match(lines[i - 1]) if i > 0 else None
        i += 1
        body: list[str] = []
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i])
            i += 1
        out.append(Block(page, start + 1, m.group(1), "\n".join(body) + "\n", marker.group(1) if marker else None))
        i += 1
    return out


ALL_BLOCKS = [b for page in PAGES for b in blocks(page)]


@dataclass
class Command:
    where: str
    argv: list[str]
    expected: str


def console_commands() -> list[Command]:
    out: list[Command] = []
    for block in ALL_BLOCKS:
        if block.lang != "console":
            continue
        current: Command | None = None
        for offset, line in enumerate(block.text.splitlines(), 1):
            if line.startswith("$ "):
                current = Command(f"{block.where}+{offset}", shlex.split(line[2:]), "")
                out.append(current)
            elif current is not None:
                current.expected += line + "\n"
    return out


COMMANDS = console_commands()


def run_cli(argv: list[str]) -> subprocess.CompletedProcess[str]:
    assert argv[0] == "duralua", argv
    env = {**os.environ, "COLUMNS": "1000", "NO_COLOR": "1", "TERM": "dumb"}
    return subprocess.run([str(DURALUA), *argv[1:]], capture_output=True, text=True, cwd=REPO, env=env, timeout=120)


def test_the_pages_have_examples() -> None:
    assert EXAMPLES, "no example apps under docs/examples"
    for page in PAGES:
        kinds = {b.lang for b in blocks(page)}
        assert {"console", "pycon"} <= kinds, (page, kinds)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_app_passes_check(example: Path) -> None:
    proc = run_cli(["duralua", "check", str(example), "--json"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["ok"] is True
    assert report["problems"] == []  # not even a warning


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_app_is_used_by_the_docs(example: Path) -> None:
    rel = str(example.relative_to(REPO))
    assert any(rel in " ".join(c.argv) for c in COMMANDS), f"no documented command uses {rel}"


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.where)
def test_documented_command_output(command: Command) -> None:
    proc = run_cli(command.argv)
    assert "Traceback" not in proc.stderr, proc.stderr
    expected = command.expected.strip()
    if expected[:1] in '[{"' or expected.lstrip("-")[:1].isdigit():
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout) == json.loads(expected)
    else:  # a failure: "Kind: message" on stderr, exit status 1
        assert proc.returncode == 1, proc.stdout
        assert proc.stderr.strip() == expected


PYCON = [b for b in ALL_BLOCKS if b.lang == "pycon"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_python_examples(page: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the page's pycon blocks in order, as one doctest session (from the repo root)."""
    monkeypatch.chdir(REPO)
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    globs: dict[str, Any] = {}
    report: list[str] = []
    for block in (b for b in PYCON if b.page == page):
        test = parser.get_doctest(block.text, globs, block.where, str(page), block.line)
        runner.run(test, out=report.append, clear_globs=False)
        globs.update(test.globs)  # DocTest works on a copy
    assert runner.failures == 0, "".join(report)
    assert runner.tries > 0


FILE_BLOCKS = [b for b in ALL_BLOCKS if b.file is not None]


@pytest.mark.parametrize("block", FILE_BLOCKS, ids=lambda b: b.where)
def test_code_excerpt_matches_the_file(block: Block) -> None:
    assert block.file is not None
    path = REPO / block.file
    assert path.is_file(), block.file
    assert block.text.strip() == path.read_text(encoding="utf-8").strip(), f"{block.where} differs from {block.file}"


def test_every_example_source_file_is_shown_or_linked() -> None:
    """Each Lua file of a docs example is either shown in full or linked from a page."""
    text = "\n".join(p.read_text(encoding="utf-8") for p in PAGES)
    shown = {b.file for b in FILE_BLOCKS}
    for example in EXAMPLES:
        for lua in example.rglob("*.lua"):
            rel = str(lua.relative_to(REPO))
            linked = str(lua.relative_to(DOCS)) in text
            assert rel in shown or linked, f"{rel} is neither shown nor linked"
