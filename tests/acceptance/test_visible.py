"""Failing work is visible (issue 11, item 2), through the real binary: `duralua run` logs a
line (time, level, text) when a run starts, completes, fails or is held and when an activity
attempt fails (attempt number, next retry), Lua `print` lines carry time and level, and
`describe` shows what a run waits for (docs/cli.md, "Log lines" and "describe")."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path
from typing import Any

from .cli_support import LOG_LINE, Served, duralua_cli, json_out, log_lines, serve

VISIBLE = Path(__file__).parent / "apps" / "visible"
STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}"


def wait_line(served: Served, pattern: str, timeout: float = 30) -> str:
    regex = re.compile(pattern)
    deadline = time.monotonic() + timeout
    while True:
        for line in log_lines(served.stderr):
            if regex.search(line):
                return line
        assert time.monotonic() < deadline, f"no log line like {pattern!r}:\n{served.stderr}"
        time.sleep(0.05)


def test_log_lines_and_describe_of_failing_held_and_waiting_runs(tmp_path: Path) -> None:
    app = Path(shutil.copytree(VISIBLE, tmp_path / "visible"))
    db = tmp_path / "vis.db"

    def wf(*args: str) -> Any:
        return duralua_cli("workflow", *args, "--dir", app, "--db", db)

    with serve(app, db) as served:
        for workflow, wid in [("vis:retrying", "retry-1"), ("vis:gives_up", "gives-up-1"), ("vis:broken", "broken-1"),
                              ("vis:runaway", "runaway-1"), ("vis:parent", "parent-1")]:  # fmt: skip
            proc = wf("start", workflow, "{}", "--id", wid)
            assert proc.returncode == 0, proc.stderr

        started = wait_line(served, r"INFO +started vis:retrying retry-1 \(run ")
        assert re.match(STAMP + " INFO    started", started), started
        retry = wait_line(served, r"WARNING activity vis:fails of retry-1 failed \(attempt 1\): .*card service down; "
                          r"retry in \S+ \(at \d\d:\d\d:\d\d\.\d{3}\)")  # fmt: skip
        assert re.match(STAMP + " WARNING ", retry)
        wait_line(served, r"WARNING activity vis:fails of retry-1 failed \(attempt 2\)")
        wait_line(served, r"ERROR +activity vis:fails of gives-up-1 failed for good \(attempt 2\): .*card service down")
        wait_line(served, r"ERROR +failed vis:gives_up gives-up-1: ")
        broken = wait_line(served, r"ERROR +failed vis:broken broken-1: ")
        assert "attempt to index" in broken and "flows.lua:" in broken, broken
        wait_line(served, r"WARNING held vis:runaway runaway-1: ")
        printed = wait_line(served, r"INFO +\[\{vis:client@vis:worker\|parent-1\}\] spawned child\t\{")
        assert re.match(STAMP + r" INFO    \[", printed)
        wait_line(served, r"INFO +started vis:child ")

        sent = wf("signal", "parent-1", "note", '"for later"')
        assert sent.returncode == 0, sent.stderr

        # A run in retry backoff: its activity's attempt, last failure and next attempt.
        d = json_out(wf("describe", "retry-1", "--json"))
        assert d["status"] == "running"
        (activity,) = d["pending"]["activities"]
        assert activity["activity_type"] == "vis:fails" and activity["attempt"] >= 2
        assert "card service down" in activity["last_failure"]["message"]
        assert activity["next_attempt_ns"] > d["start_time_ns"]
        human = wf("describe", "retry-1").stdout
        assert "pending activities: 1" in human
        assert re.search(r"#\d+ vis:fails: attempt \d+, next attempt \S+ \S+ \((in|.* ago)", human), human
        assert "last failure: " in human and "card service down" in human

        # A waiting run: its timer, its child and the message it has not read.
        d = json_out(wf("describe", "parent-1", "--json"))
        (timer,) = d["pending"]["timers"]
        assert 3500e9 < timer["fire_ns"] - d["start_time_ns"] < 3700e9
        (child,) = d["pending"]["children"]
        assert child["workflow_type"] == "vis:child" and child["status"] == "running"
        assert d["pending"]["inbox"] == [{"topic": "note", "sender": "", "payloads": ["for later"]}]
        human = wf("describe", "parent-1").stdout
        for fragment in ("pending timers: 1", "fires ", "children: 1", "vis:child running", "waiting messages: 1",
                         'note ["for later"]'):  # fmt: skip
            assert fragment in human, (fragment, human)

        # A failed run and a held one say why.
        d = json_out(wf("describe", "broken-1", "--json"))
        assert d["status"] == "failed" and "attempt to index" in d["failure"]["message"]
        assert "failure" in wf("describe", "broken-1").stdout
        d = json_out(wf("describe", "runaway-1", "--json"))
        assert d["status"] == "held" and d["reason"]
        assert "held because" in wf("describe", "runaway-1").stdout

        # The history is readable: names, times, humanized durations.
        history = wf("history", "parent-1").stdout
        assert "TimerStarted" in history and "1h00m" in history and "ChildScheduled" in history
        assert "duration_ns" not in history
    for line in served.stderr.splitlines():
        assert LOG_LINE.match(line) or line.startswith(" "), line  # every line of `run` is a log line


PRINTER = {
    "wippy.lock": "directories:\n  src: ./src\n",
    "src/_index.yaml": 'version: "1.0"\nnamespace: p\nentries:\n'
                       "  - {name: shout, kind: function.lua, source: file://p.lua, method: shout}\n",
    "src/p.lua": 'local function shout(x) print("hello", x) return x end\nreturn {shout = shout}\n',
}  # fmt: skip


def test_print_lines_carry_time_and_level_and_go_through_logging(tmp_path: Path) -> None:
    app = tmp_path / "app"
    for rel, text in PRINTER.items():
        (app / rel).parent.mkdir(parents=True, exist_ok=True)
        (app / rel).write_text(text, encoding="utf-8")
    # No logging configured (the CLI): on stderr, with the time and the level.
    proc = duralua_cli("call", "p:shout", '"there"', "--dir", app)
    assert proc.returncode == 0, proc.stderr
    (line,) = log_lines(proc.stderr)
    assert re.fullmatch(STAMP + r" INFO    \[[^\]]*\] hello\tthere", line), line
    # A program that configures logging gets the line through its own handlers (and only there).
    script = tmp_path / "p.py"
    script.write_text(
        "import logging, sys, duralua\n"
        "logging.basicConfig(level=logging.INFO, stream=sys.stdout, format='%(name)s|%(levelname)s|%(message)s')\n"
        f"print(duralua.App({str(app)!r}).call('p:shout', 'x'))\n",
        encoding="utf-8",
    )
    import subprocess
    import sys

    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["duralua.print|INFO|hello\tx", "x"], done.stdout
    assert done.stderr == ""
