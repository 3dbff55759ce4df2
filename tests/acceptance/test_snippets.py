"""Every code block of every docs page is checked by the test suite (issue 11, item 1).

Each block is claimed by exactly one way of checking it, or the test fails:

* ``console``/``pycon`` blocks and ``<!-- file: ... -->`` excerpts run in the page's own doc
  test (:data:`RUN_BY`), which must exist;
* ``python`` blocks parse, and those that define tests pass under plain pytest;
* ``lua`` blocks compile (Wippy's typed Lua, as duralua loads it);
* ``yaml`` blocks parse, and entries among them load as a definition file;
* ``sh`` blocks: every ``duralua`` line parses with the real command line (command, options,
  arguments), every other line is a known program;
* ``text`` blocks of log lines have the format of ``duralua run``'s lines;
* unlabelled blocks are diagrams or error messages, only on the pages that have them.

The README is run as a whole by tests/acceptance/test_readme.py.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from duralua.cli.helpfmt import tidy
from duralua.cli.main import app as cli_app
from duralua.cli.ui_cmd import ui_flag_default
from duralua.lua.sandbox import LuaSandbox
from duralua.registry import load_documents

from .cli_support import LOG_LINE, cli_env
from .test_docs import Block, blocks

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
PAGES = sorted(DOCS.glob("*.md"))
RUN_BY = {
    "registry.md": "tests/acceptance/test_docs.py",
    "lua-modules.md": "tests/acceptance/test_docs.py",
    "http.md": "tests/http/test_docs_http.py",
    "processes.md": "tests/runtime/test_docs_processes.py",
}
# Pages with unlabelled blocks, and what they hold.
PLAIN = {"internals.md": "the layering diagram", "registry.md": "a directory tree",
         "lua-modules.md": "an error message"}  # fmt: skip
PROGRAMS = {"duralua", "temporal", "pip", "make", "curl", "cd", "kill", "sleep"}
# The `duralua run` lines of http.md's console block that test_docs_http.py does not run.
HTTP_RUN = "$ duralua run examples/orders_api"

ALL = [b for page in PAGES for b in blocks(page)]


def _id(block: Block) -> str:
    return f"{block.where} {block.lang or 'plain'}"


def test_every_page_is_seen() -> None:
    assert {p.name for p in PAGES} >= {"cli.md", "workflows.md", "temporal.md", "telemetry.md", "ui.md", "http.md"}
    for test in set(RUN_BY.values()):
        assert (REPO / test).is_file(), test


@pytest.mark.parametrize("block", ALL, ids=_id)
def test_block(block: Block, tmp_path: Path) -> None:
    page = block.page.name
    if block.file is not None:
        assert (REPO / block.file).read_text(encoding="utf-8").strip() == block.text.strip(), block.where
        return
    check = _CHECKS.get(block.lang)
    assert check is not None, f"{block.where}: no check for a {block.lang!r} block"
    if block.lang in ("console", "pycon"):
        assert page in RUN_BY, f"{block.where}: no doc test runs the {block.lang} blocks of {page}"
    check(block, tmp_path)


def _console(block: Block, tmp_path: Path) -> None:
    if HTTP_RUN in block.text:
        _http_run(block, tmp_path)  # the other console blocks run in their page's doc test


def _pycon(block: Block, tmp_path: Path) -> None:
    pass  # run as a doctest by the page's doc test (RUN_BY)


def _python(block: Block, tmp_path: Path) -> None:
    tree = compile(block.text, block.where, "exec", flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    tests = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
             and n.name.startswith("test_")]  # fmt: skip
    if not tests:
        return
    test_file = tmp_path / "test_snippet.py"
    test_file.write_text(block.text, encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
                          cwd=REPO, capture_output=True, text=True, timeout=300, env=cli_env())  # fmt: skip
    assert proc.returncode == 0, f"{block.where}:\n{proc.stdout}{proc.stderr}"
    assert f"{len(tests)} passed" in proc.stdout, proc.stdout


def _lua(block: Block, tmp_path: Path) -> None:
    LuaSandbox().compile(block.text, f"={block.where}")


def _yaml(block: Block, tmp_path: Path) -> None:
    data = yaml.safe_load(block.text)
    if isinstance(data, list):  # entries, as they appear under `entries:`
        assert all(isinstance(e, dict) and "name" in e and "kind" in e for e in data), block.where
        text = 'version: "1.0"\nnamespace: app\nentries:\n' + "".join(f"  {ln}\n" for ln in block.text.splitlines())
        _loads(block, text)
    elif isinstance(data, dict) and "namespace" in data:
        _loads(block, block.text)
    else:
        assert isinstance(data, dict), block.where  # a configuration file (runtime, telemetry)


def _loads(block: Block, text: str) -> None:
    registry = load_documents({"_index.yaml": text}, env={}, lenient=True)
    # References into the rest of the app and file:// sources are not on the page.
    serious = [p for p in registry.problems if p.severity == "error" and "no entry" not in p.message
               and "file://" not in p.message and "source is required" not in p.message]  # fmt: skip
    assert not serious, (block.where, [str(p) for p in serious])


_COMMAND = tidy(typer.main.get_command(cli_app))


def _sh(block: Block, tmp_path: Path) -> None:
    for line in block.text.splitlines():
        command = re.sub(r"\s+#\s.*$", "", line).strip()
        if not command:
            continue
        argv = shlex.split(command)
        if ">" in argv:
            argv = argv[: argv.index(">")]
        if argv[-1] == "&":
            argv = argv[:-1]
        assert argv[0] in PROGRAMS, f"{block.where}: unknown program in {line!r}"
        if argv[0] == "duralua":
            _parses(block, argv[1:])


def _parses(block: Block, args: list[str]) -> None:
    """``args`` is a valid ``duralua`` command line (nothing runs)."""
    command: Any = _COMMAND
    ctx = command.make_context("duralua", ui_flag_default(list(args)), resilient_parsing=False)
    # Typer's vendored Click keeps a group's subcommand name in _protected_args.
    while hasattr(command, "commands") and [*ctx._protected_args, *ctx.args]:
        name, *rest = [*ctx._protected_args, *ctx.args]
        sub = command.get_command(ctx, name)
        assert sub is not None, f"{block.where}: no command {name!r} in duralua {' '.join(args)}"
        command, ctx = sub, sub.make_context(name, rest, parent=ctx)


def _text(block: Block, tmp_path: Path) -> None:
    lines = [ln for ln in block.text.splitlines() if ln.strip()]
    if block.page.name == "cli.md":  # the log lines of `duralua run`
        assert lines and all(LOG_LINE.match(ln) for ln in lines), block.where
    else:
        assert block.page.name == "README.md", block.where


def _plain(block: Block, tmp_path: Path) -> None:
    assert block.page.name in PLAIN, f"{block.where}: label the block with its language"


def _http_run(block: Block, tmp_path: Path) -> None:
    """The console output shown for `duralua run examples/orders_api` is what it prints."""
    import shutil

    shown = block.text.splitlines()[1:]
    app = Path(shutil.copytree(REPO / "examples" / "orders_api", tmp_path / "examples" / "orders_api"))
    env = {**cli_env(), "ORDERS_API_ADDR": "127.0.0.1:0"}
    from .cli_support import Served

    served = Served(subprocess.Popen([sys.executable, "-m", "duralua", "run", "examples/orders_api"], cwd=tmp_path,
                                     env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True))  # fmt: skip
    try:
        served.wait_for("Ctrl-C to stop", timeout=60)
    finally:
        served.stop()
    got = [re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:8080", ln) for ln in served.stderr.splitlines()][: len(shown)]
    assert app.is_dir() and len(got) == len(shown), (shown, got)
    for want, line in zip(shown, got, strict=True):
        pattern = re.escape(want).replace(r"\.\.\.", ".*")
        pattern = re.sub(r"\d{4}\\-\d\d\\-\d\d\\ \d\d:\d\d:\d\d\\\.\d{3}", r"\\S+ \\S+", pattern)
        assert re.fullmatch(pattern, line), (want, line)
    assert os.path.exists(tmp_path / "examples" / "orders_api" / ".duralua" / "duralua.db")


_CHECKS = {"console": _console, "pycon": _pycon, "python": _python, "lua": _lua, "yaml": _yaml, "sh": _sh,
           "text": _text, "": _plain}  # fmt: skip
