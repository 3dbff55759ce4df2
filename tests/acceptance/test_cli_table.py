"""docs/cli.md's table of `temporal` CLI tasks and their `duralua workflow` equivalents: every
row runs, in order, on the embedded engine and on Temporal (a dev server), through the real
binary, with the same exit status, the same kind of output and the same JSON fields.

One session per engine over a copy of examples/shop (its own task queue, so other tests'
workers on the shared dev server never take its tasks; on Temporal its own namespace, so
`workflow list` shows only its runs whatever ran on the server before).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .cli_support import DURALUA, Served, assert_no_traceback, cli_env

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "cli.md"
SHOP = REPO / "examples" / "shop"


def table_commands() -> list[tuple[str, list[str]]]:
    """(task, duralua command lines) of each row of the table, in order."""
    rows = []
    for line in PAGE.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[2].startswith("`duralua workflow"):
            continue
        rows.append((cells[0], re.findall(r"`(duralua [^`]+)`", cells[2])))
    return rows


ROWS = table_commands()


def test_the_table_covers_the_common_tasks() -> None:
    tasks = {task for task, _ in ROWS}
    expected = {"Start a workflow", "Describe a run", "Signal a run", "Wait for the result", "Start and wait",
                "List runs", "List with a filter", "Show the history", "Export the history", "Replay an export",
                "Send an update", "Query a run", "Cancel a run", "Terminate a run"}  # fmt: skip
    assert expected <= tasks, expected - tasks
    assert all(cmds for _, cmds in ROWS)


def _shop_copy(root: Path, namespace: str = "default") -> Path:
    app = Path(shutil.copytree(SHOP, root / "shop", ignore=shutil.ignore_patterns(".duralua")))
    index = app / "src" / "_index.yaml"
    queue = f"shop-cli-{uuid.uuid4().hex[:8]}"
    text = index.read_text(encoding="utf-8").replace("task_queue: shop", f"task_queue: {queue}")
    index.write_text(text.replace("    namespace: default", f"    namespace: {namespace}"))
    return app


class Session:
    def __init__(self, app: Path, env: dict[str, str], run_args: list[str]) -> None:
        self.app = app
        self.env = env
        proc = subprocess.Popen([str(DURALUA), "run", *run_args], cwd=app, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        self.served = Served(proc)
        self.served.wait_for("Ctrl-C to stop", timeout=90)

    def run(self, line: str) -> subprocess.CompletedProcess[str]:
        argv = shlex.split(line)
        out_file = None
        if ">" in argv:
            at = argv.index(">")
            argv, out_file = argv[:at], argv[at + 1]
        assert argv[0] == "duralua"
        proc = subprocess.run([str(DURALUA), *argv[1:]], cwd=self.app, env=self.env, capture_output=True, text=True,
                              timeout=120, stdin=subprocess.DEVNULL)  # fmt: skip
        if out_file is not None:
            (self.app / out_file).write_text(proc.stdout, encoding="utf-8")
        return proc

    def close(self) -> None:
        if self.served.proc.poll() is None:
            os.kill(self.served.proc.pid, signal.SIGCONT)
            self.served.stop()


def _shape(value: Any) -> Any:
    """The JSON fields of an output (keys, recursively into objects and the first list item)."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items() if k not in ("pending",)} | (
            {"pending": sorted(value["pending"])} if isinstance(value.get("pending"), dict) else {}
        )
    if isinstance(value, list):
        return [_shape(value[0])] if value and isinstance(value[0], dict) else "list"
    return type(value).__name__ if value is not None else "null"


def _session_outputs(session: Session) -> list[tuple[str, str, int, str, Any]]:
    """(task, command, exit status, first word of the output, JSON shape) for every command."""
    out = []
    for task, lines in ROWS:
        for line in lines:
            proc = session.run(line)
            assert_no_traceback(proc)
            assert proc.returncode == 0, (task, line, proc.stdout, proc.stderr)
            words = (proc.stdout or proc.stderr).split()
            shape: Any = None
            if "--json" not in line and ">" not in line and "history" not in line:
                as_json = session.run(line + " --json") if "start" not in line and "signal" not in line else None
                if as_json is not None and "update" not in line and "cancel" not in line:
                    assert as_json.returncode == 0, (line, as_json.stdout, as_json.stderr)
                    shape = _shape(json.loads(as_json.stdout))
            out.append((task, line, proc.returncode, words[0] if words else "", shape))
    return out


@pytest.fixture
def embedded_session(tmp_path: Path) -> Iterator[Session]:
    session = Session(_shop_copy(tmp_path), cli_env(), [])
    try:
        yield session
    finally:
        session.close()


@pytest.mark.temporal
def test_every_row_behaves_the_same_on_both_engines(
    embedded_session: Session, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from tests.temporal.harness import CLI_NAMESPACE, dev_server

    server = dev_server(request.config)
    embedded = _session_outputs(embedded_session)
    by_line = {line: word for _, line, _, word, _ in embedded}
    assert by_line["duralua workflow describe order-1"] == "workflow_id"
    assert by_line["duralua workflow update counter-1 increment 5"] == "15"
    env = {**cli_env(), "TEMPORAL_ADDRESS": server.address, "DURALUA_ENGINE": "temporal"}
    # A namespace of its own: `workflow list` on the shared server must not show other tests' runs.
    temporal_session = Session(_shop_copy(tmp_path / "t", CLI_NAMESPACE), env, ["--engine", "temporal"])
    try:
        on_temporal = _session_outputs(temporal_session)
    finally:
        temporal_session.close()
    for (task, line, code, word, shape), (_, _, t_code, t_word, t_shape) in zip(embedded, on_temporal, strict=True):
        assert (code, word) == (t_code, t_word), (task, line)
        assert shape == t_shape, (task, line, shape, t_shape)
