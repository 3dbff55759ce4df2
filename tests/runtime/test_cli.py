"""The CLI and the running app: call through the control channel, service list, commands, duralua test."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.acceptance.cli_support import DURALUA, assert_no_traceback, cli_env, duralua_cli, serve

HERE = Path(__file__).parent
APP, SVC, CLI, TESTS = HERE / "app", HERE / "svcapp", HERE / "cliapp", HERE / "testapp"


def test_call_against_a_served_app_runs_inside_it(tmp_path: Path) -> None:
    db = tmp_path / "rt.db"
    with serve(APP, db) as served:
        proc = duralua_cli("call", "rt:drive", '"workflow_roundtrip"', '"rt:worker"', "-d", APP, "--db", db, "--json")
        assert proc.returncode == 0, proc.stderr
        # the workflow it spawned ran on the served engine, and its message reached the call
        assert json.loads(proc.stdout) == {
            "from_ok": True,
            "exit": {"kind": "pid.exit", "value": {"pong": {"answer": 42}}},
        }
        bad = duralua_cli("call", "rt:drive", '"errors"', "-d", APP, "--db", db)
        assert bad.returncode == 0, bad.stderr  # bad input inside is data, the app keeps serving
        missing = duralua_cli("call", "rt:nope", "-d", APP, "--db", db)
        assert missing.returncode == 1 and "NotFound: function rt:nope not found" in missing.stderr
        again = duralua_cli("call", "rt:drive", '"echo"', "-d", APP, "--db", db, "--json")
        assert json.loads(again.stdout)["reply"] == "hello ada"
        assert served.proc.poll() is None
    assert "started rt:wf_ping" in served.stderr
    assert_no_traceback(again)


def test_call_without_a_served_app_runs_here(tmp_path: Path) -> None:
    proc = duralua_cli("call", "rt:drive", '"echo"', "-d", APP, "--db", tmp_path / "none.db", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["reply"] == "hello ada"


def test_service_list_against_the_running_app(tmp_path: Path) -> None:
    db = tmp_path / "svc.db"
    with serve(SVC, db) as served:
        served.wait_for("service svc:edge running")
        rows = json.loads(duralua_cli("service", "list", "-d", SVC, "--db", db, "--json").stdout)
        table = duralua_cli("service", "list", "-d", SVC, "--db", db).stdout
    by_id = {r["id"]: r for r in rows}
    assert by_id["svc:db"]["state"] == "running" and by_id["svc:normal"]["state"] == "exited"
    assert [r["id"] for r in rows].index("svc:db") < [r["id"] for r in rows].index("svc:edge")
    assert "svc:db" in table and "running" in table and "svc:cyc_a" in table
    assert "service svc:edge stopping: service stopping" in served.stderr
    assert "service svc:db stopped" in served.stderr
    nothing = duralua_cli("service", "list", "-d", SVC, "--db", db)
    assert nothing.returncode == 1 and "no running app serves" in nothing.stderr


def _run(*args: str | Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(DURALUA), "run", *map(str, args)], capture_output=True, text=True, env=cli_env(),
                          input=stdin, timeout=120)  # fmt: skip


def test_commands(tmp_path: Path) -> None:
    db = ("--db", tmp_path / "cli.db")
    greet = _run("greet", "ada", "-d", CLI, *db)
    assert (greet.returncode, greet.stdout) == (0, "hello\tada\nargs:1\n"), greet.stderr
    assert greet.stderr == ""  # command mode: no banner, no log lines
    assert _run(CLI, "code", "7", *db).returncode == 7  # the directory may come first
    fails = _run("fails", "-d", CLI, *db)
    assert fails.returncode == 1 and fails.stderr.strip().endswith("bad things happened")
    assert _run("nope", "-d", CLI, *db).returncode == 1  # returned false
    says = _run("says", "hi", "-d", CLI, *db)
    assert (says.returncode, says.stdout) == (0, "you said hi\n")
    echo = _run("echo-stdin", "-d", CLI, *db, stdin="a\n\nb\r\n")  # an empty line is not the end
    assert (echo.returncode, echo.stdout, echo.stderr) == (3, "got: a\ngot: \ngot: b\n", "lines:\t3\n")
    assert _run("-x", "cli:plain", "1", "2", "-d", CLI, *db).stdout == "plain\t1\t2\n"
    assert _run("ask", "-d", CLI, *db).stdout == "the answer is 42\n"
    unknown = _run("zzz", "-d", CLI, *db)
    assert unknown.returncode == 1
    assert "command \"zzz\" not found. Use 'duralua run --list' to see available commands" in unknown.stderr
    listing = _run("--list", "-d", CLI).stdout
    assert "greet" in listing and "cli:greet" in listing and "Say hello" in listing and "cli:plain" not in listing
    assert "no terminal.host found in registry" in _run("-x", "svc:steady_proc", "-d", SVC, *db).stderr
    for proc in (greet, fails, echo, unknown):
        assert_no_traceback(proc)


def test_duralua_test_verdicts(tmp_path: Path) -> None:
    proc = duralua_cli("test", "-d", TESTS)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = proc.stdout
    order = [line.split()[1] for line in out.splitlines() if line.startswith(("  PASS", "  FAIL"))]
    assert order == ["uses_process", "bdd", "passes", "returns_false", "raises", "returns_err", "status_error",
                     "hangs", "loner"]  # fmt: skip
    assert "  PASS uses_process" in out and "  PASS passes" in out and "  PASS loner" in out
    assert "a_processes: 1 passed, 1 failed" in out and "basics: 1 passed, 5 failed" in out
    assert "other: 1 passed, 0 failed" in out
    assert "tapp:returns_false: returned false" in out
    assert "tapp:raises: Internal: src/tests.lua:5: this test raises" in out
    assert "tapp:returns_err: Internal: this test returns an error" in out
    assert "tapp:status_error: returned status error: reported as an error" in out
    assert "tapp:hangs: Timeout: timed out after 0.3s" in out
    assert "tapp:bdd: math fails: 1 ~= 2" in out
    assert out.rstrip().endswith("3 passed, 6 failed")
    picked = json.loads(duralua_cli("test", "passes", "bdd", "-d", TESTS, "--json").stdout)
    assert [(t["id"], t["passed"]) for t in picked["tests"]] == [("tapp:bdd", False), ("tapp:passes", True)]
    assert [c["status"] for c in picked["tests"][0]["cases"]] == ["pass", "fail", "skip"]
    none = duralua_cli("test", "nothing-like-this", "-d", TESTS)
    assert (none.returncode, none.stdout.strip()) == (0, "No tests match filter")
    assert_no_traceback(proc)


def test_the_project_suite_runs_with_duralua_test() -> None:
    proc = duralua_cli("test", "-d", APP)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "processes: 4 passed, 0 failed" in proc.stdout and proc.stdout.rstrip().endswith("5 passed, 0 failed")
