"""The README works as written (issue 11, item 1): in a copy of the repository (what a fresh
clone holds), every command and snippet runs in the order a reader meets them, and prints
what the README says.

`make run` runs with this test session's virtual environment (a fresh one would be created by
`make`, which needs the network: CI has just done that for `make test`, which is this suite).
The `pip install` lines are checked against pyproject's extras instead of run.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from duralua.lua.sandbox import LuaSandbox

from .cli_support import LOG_LINE
from .test_docs import Block, blocks

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
VENV_BIN = Path(sys.executable).parent
PROMPT_NOTE = re.compile(r"\s+#\s.*$")


def readme_blocks() -> list[Block]:
    return blocks(README)


def copy_repository(dest: Path) -> Path:
    """The files a clone has (tracked, plus new ones not ignored), without build products."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True,
                            check=True).stdout.decode().split("\0")  # fmt: skip
    for rel in filter(None, listed):
        src = REPO / rel
        if src.is_file():
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
    return dest


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield copy_repository(tmp_path_factory.mktemp("clone") / "duralua")


def env_for(clone: Path) -> dict[str, str]:
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}", "COLUMNS": "200",
           "NO_COLOR": "1", "TERM": "dumb"}  # fmt: skip
    # Neither the engine choice nor an outer make's (CI runs under `make test`: a nested make
    # would print "Entering directory" lines into the output checked here).
    for name in ("TEMPORAL_ADDRESS", "DURALUA_ENGINE", "MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
        env.pop(name, None)
    return env


def shell_session(clone: Path, block: Block) -> list[tuple[str, str]]:
    """Run a ``sh`` block line by line in one bash (``cd`` and ``&`` jobs carry over);
    (command, its output) per line. A background ``duralua run`` logs to a file of its own."""
    script = ["set -u"]
    commands = []
    for line in block.text.splitlines():
        command = PROMPT_NOTE.sub("", line).strip()
        if not command:
            continue
        commands.append(command)
        script.append(f"echo '@@@ {len(commands)}'")
        if command.endswith("&"):
            command = f"{command[:-1].strip()} > served-{len(commands)}.log 2>&1 &"
            script.append(command)
            # Wait until it serves (the README reader sees the line); a command right after is
            # also handled by `run` itself (it waits for a command's short-lived engine).
            script.append(f"for i in $(seq 100); do grep -q 'Ctrl-C to stop' served-{len(commands)}.log && break; "
                          "sleep 0.1; done")  # fmt: skip
        elif command.startswith("kill %"):
            script.append(f'{command}; wait 2>/dev/null; echo "exit $?"')
        else:
            script.append(f'{command} 2>&1; echo "exit $?"')
    proc = subprocess.run(["bash", "-c", "\n".join(script)], cwd=clone, env=env_for(clone), capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    parts = re.split(r"^@@@ (\d+)\n", proc.stdout, flags=re.MULTILINE)
    outputs = {int(parts[i]): parts[i + 1] for i in range(1, len(parts) - 1, 2)}
    assert len(outputs) == len(commands), (proc.stdout, proc.stderr)
    return [(commands[i - 1], outputs[i]) for i in sorted(outputs)]


def exit_status(output: str) -> int:
    found = re.findall(r"^exit (\d+)$", output, flags=re.MULTILINE)
    return int(found[-1]) if found else 0


def body(output: str) -> str:
    """The output without the exit marker and the engine's log lines."""
    lines = [ln for ln in output.splitlines() if not ln.startswith("exit ") and not LOG_LINE.match(ln)]
    return "\n".join(lines)


def test_the_readme_blocks_are_the_expected_ones() -> None:
    langs = [b.lang for b in readme_blocks()]
    assert langs == ["lua", "sh", "sh", "sh", "python", "text", "python", "sh"], langs


def test_the_workflow_at_the_top_runs(clone: Path, tmp_path: Path) -> None:
    """The README's Lua is a working order workflow: it replaces the example's and runs."""
    from duralua import App
    from duralua.testing import WorkflowEnvironment

    lua = readme_blocks()[0].text
    LuaSandbox().compile(lua, "=README.lua")
    app_dir = Path(shutil.copytree(clone / "examples" / "shop", tmp_path / "shop"))
    (app_dir / "src" / "order_workflow.lua").write_text(lua, encoding="utf-8")

    async def run() -> object:
        async with WorkflowEnvironment(App(app_dir, log=None)) as env:
            return await env.execute("app:order_workflow", None,
                                     {"id": 3, "total": 9, "customer_id": "cy", "shipping_address": "x"})  # fmt: skip

    import asyncio

    assert asyncio.run(run()) == {"status": "completed", "payment_id": "pay_cy_9", "tracking": "TRK-3"}


def test_quick_start_and_install_lines(clone: Path) -> None:
    quick, install = readme_blocks()[1:3]
    assert [PROMPT_NOTE.sub("", ln).strip() for ln in quick.text.splitlines()] == ["make run", "make test"]
    # `make run`, with this session's environment (VENV= points make at it). `-o` keeps make from
    # reinstalling into it when the copied pyproject looks newer than its stamp: that would repoint
    # the session's editable install at this temporary copy, under every later test.
    venv = VENV_BIN.parent
    argv = ["make", "-o", str(venv / ".installed"), "run", f"VENV={venv}"]
    proc = subprocess.run(argv, cwd=clone, env=env_for(clone), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    demo = json.loads(proc.stdout[proc.stdout.index("{") :])
    assert demo["order"]["status"] == "completed" and demo["approval"]["status"] == "approved"
    assert demo["saga"]["status"] == "failed"  # its shipment fails on purpose: compensations ran
    assert not (clone / "examples" / "shop" / ".duralua").exists(), "make run left a database behind"
    # The install lines name extras that exist.
    extras = tomllib.loads((clone / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for line in install.text.splitlines():
        named = re.findall(r"duralua\[(\w+)\]", line)
        assert all(e in extras for e in named), (line, sorted(extras))
    assert "temporalio" in " ".join(extras["temporal"])


def test_the_tour(clone: Path) -> None:
    """The five-minute tour, in order, after `make run` (which left no runs behind)."""
    out = dict(shell_session(clone, readme_blocks()[3]))
    for command, output in out.items():
        assert exit_status(output) == 0, (command, output)
        assert "Traceback" not in output, (command, output)

    def of(prefix: str) -> str:
        return body(next(o for c, o in out.items() if c.startswith(prefix)))

    assert of("duralua check").startswith("ok . (")
    assert json.loads(of("duralua call")) == {"amount": 5, "id": "pay_ada_5"}
    assert of("duralua workflow start") == "started {app:temporal_client@app:worker|order-1} [running]"
    described = of("duralua workflow describe")
    assert "workflow_id    order-1" in described and "status         running" in described
    assert "pending activities: none" in described
    assert of("duralua workflow signal") == "sent approve to {app:temporal_client@app:worker|order-1}"
    assert json.loads(of("duralua workflow result")) == {"approved_by": "bob", "payment_id": "pay_ada_30",
                                                          "status": "approved"}  # fmt: skip
    listed = of("duralua workflow list")
    assert "1 run(s)" in listed and "order-1" in listed  # only the tour's run: make run left none
    export = json.loads((clone / "examples" / "shop" / "order-1.json").read_text())
    assert export["format"] == "duralua-history/1" and export["info"]["workflow_id"] == "order-1"
    assert of("duralua workflow replay") == "ok order-1: replayed cleanly"
    served = (clone / "examples" / "shop" / "served-4.log").read_text()
    assert all(LOG_LINE.match(line) for line in served.splitlines()), served
    assert re.search(r"INFO +completed app:approval_workflow order-1 in ", served), served


def test_the_python_snippet_prints_what_the_readme_shows(clone: Path) -> None:
    code, shown = readme_blocks()[4:6]
    proc = subprocess.run([sys.executable, "-c", code.text], cwd=clone, env=env_for(clone), capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == shown.text.strip().splitlines()
    assert all(LOG_LINE.match(line) for line in proc.stderr.splitlines()), proc.stderr  # log lines only


def test_the_test_snippet_passes_under_plain_pytest(clone: Path) -> None:
    test = readme_blocks()[6].text
    ast.parse(test)
    (clone / "test_order.py").write_text(test, encoding="utf-8")
    proc = subprocess.run([str(VENV_BIN / "pytest"), "test_order.py"], cwd=clone, env=env_for(clone),
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout


def test_the_processes_tour(clone: Path) -> None:
    steps = shell_session(clone, readme_blocks()[7])
    for command, output in steps:
        assert exit_status(output) == 0, (command, output)
        assert "Traceback" not in output, (command, output)
    out = {c: body(o) for c, o in steps}
    assert re.search(r"demo:counter_service\s+running", out["duralua service list"]), out
    assert json.loads(out["duralua call demo:session 1 2 3"]) == {"count": 16, "exit": 16}
    assert "count: 5" in out["duralua run stats 2 3"]
