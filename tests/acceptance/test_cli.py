"""Acceptance tests of the ``duralua`` command line: the real executable, in subprocesses.

Apps are copied to a temporary directory before anything that writes (databases, edited
sources), so the repository is never modified.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import duralua

from .cli_support import DURALUA, assert_no_traceback, cli_env, duralua_cli, json_out, serve

REPO = Path(__file__).resolve().parents[2]
APPS = Path(__file__).parent / "apps"
FOUNDATION = APPS / "foundation"
SHOP = REPO / "examples" / "shop"

APPROVAL_INPUT = '{"id": 1, "total": 30, "customer_id": "ada"}'


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    return Path(shutil.copytree(SHOP, tmp_path / "shop"))


def test_executable_exists() -> None:
    assert DURALUA.exists(), f"{DURALUA} (install the package: pip install -e .)"


def test_version() -> None:
    proc = duralua_cli("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"duralua {duralua.__version__}"


def test_help_lists_the_commands() -> None:
    proc = duralua_cli("--help")
    assert proc.returncode == 0
    for command in ("check", "call", "run", "workflow"):
        assert command in proc.stdout
    proc = duralua_cli("workflow", "--help")
    assert proc.returncode == 0
    for command in ("start", "list", "describe", "history", "result", "signal", "terminate", "replay"):
        assert command in proc.stdout


# ---------------------------------------------------------------------------------------------
# check
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("app_dir", [FOUNDATION, SHOP], ids=["foundation", "shop"])
def test_check_good_app(app_dir: Path) -> None:
    proc = duralua_cli("check", app_dir)
    assert proc.returncode == 0, proc.stderr
    assert "ok" in proc.stdout
    proc = duralua_cli("check", app_dir, "--json")
    assert proc.returncode == 0
    out = json_out(proc)
    assert out["ok"] is True
    assert [p for p in out["problems"] if p["severity"] == "error"] == []


def test_check_in_the_current_directory(tmp_path: Path) -> None:
    app_dir = shutil.copytree(FOUNDATION, tmp_path / "app")
    proc = duralua_cli("check", cwd=app_dir)
    assert proc.returncode == 0, proc.stderr


# (file, line, entry, fragment) of every problem in apps/broken_registry
REGISTRY_PROBLEMS = [
    ("src/_index.yaml", 7, "broken:missing_source", "file://nope.lua -> src/nope.lua: file not found"),
    ("src/_index.yaml", 8, "broken:no_kind", "entry has no `kind`"),
    ("src/_index.yaml", 15, "broken:escape", "path traversal"),
    ("src/_index.yaml", 19, "broken:wf", "module 'http_client' is not allowed in a workflow"),
    (
        "src/more.yaml",
        3,
        "broken:dup",
        "duplicate entry id broken:dup: already defined at src/_index.yaml:10",
    ),
    ("src/more.yaml", 7, "broken:worker", "no entry broken:no_such_client"),
]

# every problem in apps/broken_lua: syntax errors at the line of the original (typed) source
LUA_PROBLEMS = [
    ("src/first.lua", 8, "broken:first", "'then' expected"),
    ("src/second.lua", 10, "broken:second", "'end' expected (to close 'function' at line 7)"),
    ("src/_index.yaml", 12, "broken:inline", "unexpected symbol near 'end'"),
]


@pytest.mark.parametrize(
    ("app_name", "expected"),
    [("broken_registry", REGISTRY_PROBLEMS), ("broken_lua", LUA_PROBLEMS)],
)
def test_check_lists_every_problem(app_name: str, expected: list[tuple[str, int, str, str]]) -> None:
    proc = duralua_cli("check", APPS / app_name)
    assert proc.returncode == 1
    assert_no_traceback(proc)
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error ")]
    assert len(lines) == len(expected), proc.stderr
    for file, line, entry, fragment in expected:
        matching = [text for text in lines if f"{file}:{line} " in text]
        assert len(matching) == 1, (file, line, proc.stderr)
        assert f"entry {entry}" in matching[0]
        assert fragment in matching[0]
    assert f"{len(expected)} error(s)" in proc.stderr

    proc = duralua_cli("check", APPS / app_name, "--json")
    assert proc.returncode == 1
    out = json_out(proc)
    assert out["ok"] is False
    found = {(p["file"], p["line"], p["entry"]) for p in out["problems"] if p["severity"] == "error"}
    assert found == {(file, line, entry) for file, line, entry, _ in expected}


def test_check_fine_typed_file_in_broken_app_is_not_reported() -> None:
    proc = duralua_cli("check", APPS / "broken_lua", "--json")
    assert all(p["entry"] != "broken:fine" for p in json_out(proc)["problems"])


def test_check_missing_directory(tmp_path: Path) -> None:
    proc = duralua_cli("check", tmp_path / "nope")
    assert proc.returncode == 1
    assert_no_traceback(proc)
    assert "does not exist" in proc.stderr + proc.stdout


# ---------------------------------------------------------------------------------------------
# call
# ---------------------------------------------------------------------------------------------


def test_call_prints_json() -> None:
    order = {"id": "o1", "items": [{"sku": "A", "qty": 2, "price": 10}], "coupon": "SAVE50"}
    proc = duralua_cli("call", "lab:typed", json.dumps(order), "--dir", FOUNDATION)
    assert proc.returncode == 0, proc.stderr
    assert json_out(proc) == {"ok": True, "value": {"id": "o1", "total": 10, "by_sku": {"A": 2}}}

    proc = duralua_cli("call", "lab:typed", json.dumps(order), "--dir", FOUNDATION, "--json")
    assert proc.returncode == 0
    assert json_out(proc)["value"]["total"] == 10


def test_call_several_arguments_and_the_current_directory(tmp_path: Path) -> None:
    app_dir = shutil.copytree(FOUNDATION, tmp_path / "app")
    proc = duralua_cli("call", "lab:modules", '"uuid"', '"6ba7b810-9dad-11d1-80b4-00c04fd430c8"', '"x"', cwd=app_dir)
    assert proc.returncode == 0, proc.stderr
    assert json_out(proc)["v4_valid"] is True


def test_call_failure_exits_1_with_kind_and_message() -> None:
    proc = duralua_cli("call", "lab:fail_with", '"Conflict"', "--dir", FOUNDATION)
    assert proc.returncode == 1
    assert_no_traceback(proc)
    assert "Conflict: failed with Conflict" in proc.stderr

    proc = duralua_cli("call", "lab:fail_with", '"Conflict"', "--dir", FOUNDATION, "--json")
    assert proc.returncode == 1
    error = json_out(proc)["error"]
    assert (error["kind"], error["message"], error["retryable"]) == (
        "Conflict",
        "failed with Conflict",
        False,
    )
    assert error["details"] == {"step": 2}


def test_call_runtime_error_names_the_lua_line() -> None:
    proc = duralua_cli("call", "lab:boom", '{"id": 1}', "--dir", FOUNDATION)
    assert proc.returncode == 1
    assert_no_traceback(proc)
    assert "Internal" in proc.stderr
    assert "src/lab/boom.lua:3:" in proc.stderr


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["lab:typed", "{bad"], "argument 1 is not valid JSON"),
        (["lab:no_such"], "NotFound: function lab:no_such not found"),
    ],
)
def test_call_usage_errors(args: list[str], fragment: str) -> None:
    proc = duralua_cli("call", *args, "--dir", FOUNDATION)
    assert proc.returncode == 1
    assert_no_traceback(proc)
    assert fragment in proc.stderr


def test_call_on_a_broken_app_lists_the_problems() -> None:
    proc = duralua_cli("call", "broken:anything", "--dir", APPS / "broken_registry")
    assert proc.returncode == 1
    assert_no_traceback(proc)
    assert "src/more.yaml:3" in proc.stderr
    assert "src/_index.yaml:7" in proc.stderr


# ---------------------------------------------------------------------------------------------
# run
# ---------------------------------------------------------------------------------------------


def test_run_demo_with_fast_forward(shop: Path, tmp_path: Path) -> None:
    proc = duralua_cli("run", shop, "--call", "app:demo", "--fast-forward", "--db", tmp_path / "demo.db")
    assert proc.returncode == 0, proc.stderr
    assert "completed" in proc.stdout
    out = json_out(proc)
    assert out["order"]["status"] == "completed"
    assert out["saga"]["status"] == "failed"
    assert out["approval"]["status"] == "approved"


def test_run_demo_default_database_is_inside_the_app(shop: Path) -> None:
    proc = duralua_cli("run", shop, "--call", "app:demo", "--fast-forward")
    assert proc.returncode == 0, proc.stderr
    assert (shop / ".duralua" / "duralua.db").exists()


# ---------------------------------------------------------------------------------------------
# workflow start / list / describe / signal / result / history / replay / terminate
# ---------------------------------------------------------------------------------------------


def test_workflow_commands_end_to_end(shop: Path, tmp_path: Path) -> None:
    db = tmp_path / "wf.db"
    common = ("--dir", shop, "--db", db)

    proc = duralua_cli("workflow", "start", "app:approval_workflow", APPROVAL_INPUT, "--id", "order-1", *common)
    assert proc.returncode == 0, proc.stderr
    assert "order-1" in proc.stdout

    runs = json_out(duralua_cli("workflow", "list", *common, "--json"))
    assert [(r["workflow_id"], r["status"]) for r in runs] == [("order-1", "running")]

    proc = duralua_cli("workflow", "result", "order-1", *common)
    assert proc.returncode == 2  # still running
    assert "running" in proc.stdout

    # The start was recorded without an engine; `duralua run` picks the run up.
    with serve(shop, db):
        proc = duralua_cli("workflow", "signal", "order-1", "approve", '{"approved_by": "bob"}', *common)
        assert proc.returncode == 0, proc.stderr
        assert "sent approve" in proc.stdout

        proc = duralua_cli("workflow", "result", "order-1", "--wait", *common, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert json_out(proc) == {"status": "approved", "approved_by": "bob", "payment_id": "pay_ada_30"}

    completed = json_out(duralua_cli("workflow", "list", "--status", "completed", *common, "--json"))
    assert [r["workflow_id"] for r in completed] == ["order-1"]

    described = json_out(duralua_cli("workflow", "describe", "order-1", *common, "--json"))
    assert described["status"] == "completed"
    assert described["workflow_type"] == "app:approval_workflow"
    assert described["history_length"] > 0
    proc = duralua_cli("workflow", "describe", "order-1", *common)
    assert proc.returncode == 0 and "completed" in proc.stdout

    proc = duralua_cli("workflow", "history", "order-1", *common, "--json")
    assert proc.returncode == 0, proc.stderr
    history_file = tmp_path / "order-1.json"
    history_file.write_text(proc.stdout)
    assert "app:charge_payment" in proc.stdout

    proc = duralua_cli("workflow", "replay", "--file", history_file, "--dir", shop)
    assert proc.returncode == 0, proc.stderr
    assert "replayed cleanly" in proc.stderr
    proc = duralua_cli("workflow", "replay", "order-1", *common, "--json")
    assert proc.returncode == 0
    assert json_out(proc) == [{"workflow_id": "order-1", "ok": True, "message": "replayed cleanly"}]

    # A copy of the app whose workflow calls its activities in a different order no longer
    # replays the recorded history.
    changed = Path(shutil.copytree(shop, tmp_path / "shop_changed"))
    source = changed / "src" / "approval_workflow.lua"
    text = source.read_text()
    anchor = '  local payment, err = funcs.call("app:charge_payment"'
    assert anchor in text
    source.write_text(text.replace(anchor, '  funcs.call("app:reserve_inventory", {"x"})\n' + anchor, 1))
    proc = duralua_cli("workflow", "replay", "--file", history_file, "--dir", changed)
    assert proc.returncode == 1
    assert_no_traceback(proc)
    assert "non-determinism" in proc.stderr
    assert "app:charge_payment" in proc.stderr and "app:reserve_inventory" in proc.stderr
    proc = duralua_cli("workflow", "replay", "--file", history_file, "--dir", changed, "--json")
    assert proc.returncode == 1
    [report] = json_out(proc)
    assert report["ok"] is False and "non-determinism" in report["message"]

    # terminate a second run
    proc = duralua_cli("workflow", "start", "app:approval_workflow", APPROVAL_INPUT, "--id", "order-2", *common)
    assert proc.returncode == 0, proc.stderr
    proc = duralua_cli("workflow", "terminate", "order-2", "--reason", "changed my mind", *common)
    assert proc.returncode == 0, proc.stderr
    described = json_out(duralua_cli("workflow", "describe", "order-2", *common, "--json"))
    assert described["status"] == "terminated"
    proc = duralua_cli("workflow", "signal", "order-2", "approve", "{}", *common)
    assert proc.returncode == 1
    assert "not running" in proc.stderr


def test_workflow_cancel_signal_path(shop: Path, tmp_path: Path) -> None:
    db = tmp_path / "wf.db"
    common = ("--dir", shop, "--db", db)
    with serve(shop, db):
        proc = duralua_cli("workflow", "start", "app:approval_workflow", APPROVAL_INPUT, "--id", "o9", *common)
        assert proc.returncode == 0, proc.stderr
        proc = duralua_cli("workflow", "signal", "o9", "cancel", '{"reason": "out of stock"}', *common)
        assert proc.returncode == 0, proc.stderr
        proc = duralua_cli("workflow", "result", "o9", "--wait", "--json", *common, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert json_out(proc)["result"] == {"status": "cancelled", "reason": "out of stock"}


def test_workflow_unknown_things(shop: Path, tmp_path: Path) -> None:
    common = ("--dir", shop, "--db", tmp_path / "wf.db")
    proc = duralua_cli("workflow", "start", "app:nope", *common)
    assert proc.returncode == 1
    assert_no_traceback(proc)
    assert "workflow app:nope not found" in proc.stderr
    proc = duralua_cli("workflow", "describe", "ghost", *common)
    assert proc.returncode == 1
    assert_no_traceback(proc)


# ---------------------------------------------------------------------------------------------
# small CLI bugs (issue 11, item 3)
# ---------------------------------------------------------------------------------------------

OPERATOR = APPS / "operator"


def test_check_and_run_take_the_directory_either_way(tmp_path: Path) -> None:
    assert duralua_cli("check", "--dir", OPERATOR).returncode == 0
    assert duralua_cli("check", OPERATOR, "--dir", OPERATOR).returncode == 0
    proc = duralua_cli("check", OPERATOR, "--dir", FOUNDATION)
    assert proc.returncode == 1
    assert "two app directories given" in proc.stderr
    proc = duralua_cli("run", "--dir", OPERATOR, "--db", tmp_path / "x.db", "--call", "op:hello")
    assert proc.returncode == 0, proc.stderr
    assert json_out(proc) == "hello nil"


def test_list_is_newest_first_with_a_limit(tmp_path: Path) -> None:
    common = ("--dir", OPERATOR, "--db", tmp_path / "x.db")
    for i in range(3):
        assert duralua_cli("workflow", "start", "op:waiter", "--id", f"w{i}", *common).returncode == 0
    runs = json_out(duralua_cli("workflow", "list", *common, "--json"))
    assert [r["workflow_id"] for r in runs] == ["w2", "w1", "w0"]
    runs = json_out(duralua_cli("workflow", "list", "--limit", "2", *common, "--json"))
    assert [r["workflow_id"] for r in runs] == ["w2", "w1"]
    proc = duralua_cli("workflow", "list", "--limit", "1", *common)
    assert "the newest 1 of 3 run(s)" in proc.stdout
    proc = duralua_cli("workflow", "list", "--status", "runing", *common)
    assert proc.returncode == 1
    assert "unknown status 'runing'" in proc.stderr


def test_call_suggests_a_close_function_id() -> None:
    proc = duralua_cli("call", "op:helo", "--dir", OPERATOR)
    assert proc.returncode == 1
    assert "NotFound: function op:helo not found" in proc.stderr
    assert "did you mean op:hello?" in proc.stderr


def test_start_json_errors_are_json(tmp_path: Path) -> None:
    proc = duralua_cli("workflow", "start", "op:nope", "--dir", OPERATOR, "--db", tmp_path / "x.db", "--json")
    assert proc.returncode == 1
    error = json_out(proc)["error"]
    assert "workflow op:nope not found" in error["message"]
    assert "op:quick" in error["hint"]


def test_status_in_brackets_is_not_swallowed(tmp_path: Path) -> None:
    proc = duralua_cli("workflow", "start", "op:quick", "1", "--dir", OPERATOR, "--db", tmp_path / "x.db")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("[completed]")


def _piped(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """As a script runs it: stdout is a pipe and no COLUMNS, so Rich lays out for 80 columns."""
    env = cli_env()
    env.pop("COLUMNS")
    return subprocess.run([str(DURALUA), *map(str, args)], capture_output=True, text=True, env=env, timeout=120,
                          stdin=subprocess.DEVNULL)  # fmt: skip


def test_list_in_80_columns_keeps_whole_ids(tmp_path: Path) -> None:
    long_id = "order-2026-05-01-customer-0123456789abcdef-attempt-0001-of-a-long-batch"
    common = ("--dir", OPERATOR, "--db", tmp_path / "x.db")
    assert duralua_cli("workflow", "start", "op:quick", "1", "--id", long_id, *common).returncode == 0
    proc = _piped("workflow", "list", *common)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert max(map(len, lines)) <= 80, proc.stdout
    # One run: the id column's cells, top to bottom, are the whole id (folded, not cut).
    assert "".join(ln.split("│")[1].strip() for ln in lines if ln.startswith("│")) == long_id, proc.stdout


@pytest.mark.parametrize("command", [(), ("run",), ("check",), ("workflow", "start"), ("workflow", "list")],
                         ids=lambda c: " ".join(c) or "duralua")  # fmt: skip
def test_help_of_the_binary_has_no_python_types_or_backquotes(command: tuple[str, ...]) -> None:
    """(Every command's help is checked in-process by test_api_docs; this is the installed script.)"""
    proc = _piped(*command, "--help")
    assert proc.returncode == 0, proc.stderr
    assert "Usage: duralua" in proc.stdout
    assert not re.search(r"<(bool|str|int|float|path)>", proc.stdout), proc.stdout
    assert "`" not in proc.stdout, proc.stdout
