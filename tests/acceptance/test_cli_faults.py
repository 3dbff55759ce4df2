"""Operator mistakes and faults through the real ``duralua`` executable (issue 7, item 11).

Each one gives a one-line error (no traceback) or the correct behaviour: bad arguments,
malformed history files, databases that are not databases, read-only or full; commands that
need an engine never spin or wait silently; ``signal`` says whether the signal was delivered;
``run --call`` stops on SIGINT/SIGTERM; user text is never read as Rich markup.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import sqlite3
import stat
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

from duralua.embedded.store import Store

from .cli_support import (
    DURALUA,
    Served,
    assert_no_traceback,
    cli_env,
    duralua_cli,
    error_lines,
    json_out,
    serve,
    start_served,
)

APPS = Path(__file__).parent / "apps"
OPERATOR = APPS / "operator"
BIG = "1" * 400
DEEP = "[" * 60_000 + "]" * 60_000


@pytest.fixture
def op(tmp_path: Path) -> Path:
    return Path(shutil.copytree(OPERATOR, tmp_path / "op"))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "op.db"


def one_error(proc: subprocess.CompletedProcess[str], fragment: str, code: int = 1) -> str:
    """The command failed with exactly one error line containing ``fragment``."""
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert_no_traceback(proc)
    lines = [line for line in error_lines(proc) if not line.startswith("hint:")]
    assert len(lines) == 1, proc.stderr
    assert fragment in lines[0], proc.stderr
    return lines[0]


def wf(op: Path, db: Path, *args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return duralua_cli("workflow", *args, "--dir", op, "--db", db, timeout=timeout)


def _background(*args: str | Path) -> subprocess.Popen[str]:
    return subprocess.Popen([str(DURALUA), *map(str, args)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=cli_env())  # fmt: skip


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# ---------------------------------------------------------------------------------------------
# arguments
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (DEEP, "argument 1 is nested too deeply (the limit is 128 levels)"),
        ("[" * 200 + "]" * 200, "argument 1[1][1]"),
        (BIG, "argument 1: integer 11111111111111111111... (400 digits) is outside the 64-bit range"),
        ('{"order": {"items": [1, ' + BIG + "]}}", "argument 1.order.items[2]: integer"),
        ("[-" + BIG + "]", "argument 1[1]: integer -11111111111111111111... (400 digits)"),
        ("1" * 5000, "outside the 64-bit range of Lua integers"),
        ("NaN", "argument 1 is not valid JSON (NaN is not a JSON number)"),
        ("1e999", "argument 1: NaN and infinity cannot be encoded"),
        ("{bad", "argument 1 is not valid JSON"),
        ('{"a": ["\\ud800"]}', "argument 1.a[1]: the string holds the lone surrogate U+D800"),
    ],
    ids=[
        "deep",
        "deep-129",
        "big-int",
        "big-int-nested",
        "big-negative",
        "5000-digits",
        "nan",
        "inf",
        "syntax",
        "surrogate",
    ],
)
def test_bad_json_arguments_are_one_line_errors(op: Path, db: Path, value: str, fragment: str) -> None:
    one_error(duralua_cli("call", "op:hello", value, "--dir", op), fragment)
    one_error(wf(op, db, "start", "op:quick", value), fragment)
    assert not db.exists() or not json_out(wf(op, db, "list", "--json"))


def test_bad_update_argument(op: Path, db: Path) -> None:
    assert wf(op, db, "start", "op:waiter", "--id", "w").returncode == 0
    one_error(wf(op, db, "update", "w", "inc", DEEP), "the update argument is nested too deeply")
    one_error(wf(op, db, "update", "w", "inc", BIG), "the update argument: integer")


def test_arguments_that_are_not_utf8(op: Path, db: Path) -> None:
    bad = os.fsdecode(b"order-\xff")
    one_error(wf(op, db, "start", "op:quick", "1", "--id", bad), "(b'order-\\xff') is not valid UTF-8")
    one_error(duralua_cli("call", "op:hello", os.fsdecode(b'"\xff"'), "--dir", op), "is not valid UTF-8")


def test_64_bit_integers_still_pass(op: Path) -> None:
    proc = duralua_cli("call", "op:hello", str(2**63 - 1), "--dir", op)
    assert proc.returncode == 0, proc.stderr
    assert json_out(proc) == f"hello {2**63 - 1}"


def test_bad_signal_payload(op: Path, db: Path) -> None:
    assert wf(op, db, "start", "op:waiter", "--id", "w").returncode == 0
    one_error(wf(op, db, "signal", "w", "go", BIG), "the payload: integer")
    one_error(wf(op, db, "signal", "w", "go", DEEP), "the payload is nested too deeply")


# ---------------------------------------------------------------------------------------------
# replay --file
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def exported(op: Path, db: Path, tmp_path: Path) -> Path:
    assert wf(op, db, "start", "op:quick", '{"a": 1}', "--id", "q", "--wait").returncode == 0
    proc = wf(op, db, "history", "q", "--json")
    assert proc.returncode == 0, proc.stderr
    path = tmp_path / "q.json"
    path.write_text(proc.stdout)
    return path


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("not json", "is not valid JSON (Expecting value at line 1 column 1)"),
        ("[1, 2]", "is not a duralua history export (expected an object with info and activations)"),
        ('{"info": {}}', "is not a valid duralua history export"),
        ('{"info": {"workflow_id": 1}, "activations": 5}', "is not a valid duralua history export"),
        ('{"events": 5}', "is not a Temporal history export (events is not a list)"),
        ('{"events": [{"eventType": 42}]}', "is not a Temporal history export"),
        (b"\xff\xfe{}", "is not UTF-8 text"),
        ("[" * 60_000, "is nested too deeply"),
    ],
    ids=["not-json", "list", "no-fields", "bad-fields", "temporal-shape", "temporal-events", "binary", "deep"],
)
def test_replay_of_a_malformed_file(op: Path, tmp_path: Path, content: str | bytes, fragment: str) -> None:
    path = tmp_path / "bad.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    line = one_error(duralua_cli("workflow", "replay", "--file", path, "--dir", op), fragment)
    assert "history file" in line
    proc = duralua_cli("workflow", "replay", "--file", path, "--dir", op, "--json")
    assert proc.returncode == 1
    assert fragment in json_out(proc)["error"]["message"]


def test_replay_of_a_truncated_export(op: Path, exported: Path) -> None:
    text = exported.read_text()
    exported.write_text(text[: len(text) // 2])
    proc = duralua_cli("workflow", "replay", "--file", exported, "--dir", op)
    one_error(proc, "is not valid JSON")
    assert "hint: was it truncated?" in proc.stderr
    proc = duralua_cli("workflow", "replay", "--file", exported.parent / "missing.json", "--dir", op)
    one_error(proc, "cannot read history file")
    one_error(duralua_cli("workflow", "replay", "--file", exported.parent, "--dir", op), "cannot read history file")


def test_replay_of_a_good_export_still_works(op: Path, exported: Path) -> None:
    proc = duralua_cli("workflow", "replay", "--file", exported, "--dir", op)
    assert proc.returncode == 0, proc.stderr
    assert "replayed cleanly" in proc.stderr


# ---------------------------------------------------------------------------------------------
# databases that are not databases, read-only, full
# ---------------------------------------------------------------------------------------------

READ_COMMANDS = [("list",), ("describe", "w"), ("history", "w"), ("result", "w"), ("replay", "--all")]
WRITE_COMMANDS = [("start", "op:quick", "1"), ("signal", "w", "go"), ("terminate", "w"), ("cancel", "w")]


@pytest.mark.parametrize("command", READ_COMMANDS + WRITE_COMMANDS, ids=lambda c: c[0])
def test_a_file_that_is_not_a_database(op: Path, tmp_path: Path, command: tuple[str, ...]) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("these are my notes, not a database\n" * 200)
    one_error(wf(op, bad, *command), "is not a duralua database or is damaged")
    assert bad.read_text().startswith("these are my notes")


def test_a_sqlite_database_of_another_program(op: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    with closing(sqlite3.connect(other)) as conn:
        conn.execute("CREATE TABLE t(x)")
        conn.commit()
    one_error(wf(op, other, "list"), "is not a duralua database")


def test_run_and_call_on_a_non_database(op: Path, tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("not a database\n" * 200)
    one_error(duralua_cli("run", op, "--db", bad, "--call", "op:hello"), "is not a duralua database")


def test_a_truncated_database(op: Path, db: Path) -> None:
    for i in range(30):
        assert wf(op, db, "start", "op:waiter", "--id", f"w{i}").returncode == 0
    size = db.stat().st_size
    assert size > 8192
    with db.open("r+b") as f:
        f.truncate(size // 3)
    for command in [("list",), ("describe", "w29"), ("start", "op:quick", "1")]:
        proc = wf(op, db, *command)
        assert_no_traceback(proc)
        if proc.returncode != 0:  # what survives a cut depends on the page layout; never a traceback
            assert len(error_lines(proc)) <= 2, proc.stderr


def test_db_option_errors(op: Path, tmp_path: Path) -> None:
    one_error(wf(op, tmp_path, "list"), "is a directory")
    one_error(wf(op, tmp_path / "missing.db", "list"), "no database at")
    one_error(wf(op, tmp_path / "missing.db", "describe", "w"), "no database at")
    one_error(wf(op, tmp_path / "missing.db", "result", "w", "--wait"), "no database at")
    not_dir = tmp_path / "file"
    not_dir.write_text("x")
    one_error(duralua_cli("workflow", "list", "--dir", not_dir), "is not a directory")
    # `run NAME` with NAME not a directory runs the command NAME of the app in "." (as
    # `wippy run NAME`); here "." is no app, which is said instead of scanning it.
    one_error(duralua_cli("run", not_dir, "--call", "op:hello", cwd=tmp_path), "is not an app")
    proc = duralua_cli("check", not_dir)
    assert proc.returncode == 1
    assert_no_traceback(proc)
    assert f"app directory {not_dir} is not a directory" in proc.stderr


def test_a_reader_that_leaves_early(op: Path, db: Path) -> None:
    """`duralua workflow list | head -1`: no BrokenPipeError traceback."""
    for i in range(3):
        assert wf(op, db, "start", "op:waiter", "--id", f"w{i}").returncode == 0
    proc = subprocess.Popen([str(DURALUA), "workflow", "list", "--dir", str(op), "--db", str(db)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env())  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(30) in (0, 1, 141)  # click exits 1 on EPIPE, silently
    assert "Traceback" not in err, err


@contextmanager
def _mounted_tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A small tmpfs at ``path``, where permitted (root on Linux); the test is skipped otherwise."""
    path.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a tmpfs")
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.decode(errors='replace').strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


@contextmanager
def _read_only(directory: Path) -> Iterator[None]:
    """Make ``directory`` read-only for the CLI: a read-only remount of its tmpfs for root
    (file modes do not stop root), file modes otherwise."""
    if os.geteuid() == 0:
        subprocess.run(["mount", "-o", "remount,ro", str(directory)], check=True)
        yield
        return
    for path in directory.iterdir():
        os.chmod(path, 0o444)
    os.chmod(directory, 0o555)
    try:
        yield
    finally:
        os.chmod(directory, stat.S_IRWXU)


@pytest.fixture
def ro_dir(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        path = tmp_path / "ro"
        path.mkdir()
        yield path
        return
    with _mounted_tmpfs(tmp_path / "ro", "8m") as path:
        yield path


def test_a_read_only_database_can_be_inspected(op: Path, ro_dir: Path) -> None:
    db = ro_dir / "op.db"
    assert wf(op, db, "start", "op:quick", '"x"', "--id", "q", "--wait").returncode == 0
    assert wf(op, db, "start", "op:waiter", "--id", "w").returncode == 0
    with _read_only(ro_dir):
        listed = wf(op, db, "list", "--json")
        assert listed.returncode == 0, listed.stderr
        assert {r["workflow_id"]: r["status"] for r in json_out(listed)} == {"q": "completed", "w": "running"}
        described = wf(op, db, "describe", "q", "--json")
        assert described.returncode == 0, described.stderr
        assert json_out(described)["result"] == {"echo": "x"}
        assert wf(op, db, "history", "q").returncode == 0
        result = wf(op, db, "result", "q", "--json")
        assert result.returncode == 0, result.stderr
        assert json_out(result)["result"] == {"echo": "x"}
        assert wf(op, db, "result", "w").returncode == 2
        assert wf(op, db, "replay", "q").returncode == 0
        one_error(wf(op, db, "signal", "w", "go"), "ead-only")
        one_error(wf(op, db, "start", "op:quick", "1"), "ead-only")
        one_error(duralua_cli("run", op, "--db", db, "--call", "op:hello"), "ead-only")


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    with _mounted_tmpfs(tmp_path / "tiny", "1m") as path:
        yield path


def _fill(directory: Path) -> None:
    fd = os.open(directory / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:  # ENOSPC: full
        pass
    finally:
        os.close(fd)


def test_a_full_disk(op: Path, tiny_fs: Path) -> None:
    db = tiny_fs / "op.db"
    assert wf(op, db, "start", "op:waiter", "--id", "w").returncode == 0
    _fill(tiny_fs)
    for command in WRITE_COMMANDS:
        started = time.monotonic()
        one_error(wf(op, db, *command), "is full")
        assert time.monotonic() - started < 30
    listed = wf(op, db, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [r["workflow_id"] for r in json_out(listed)] == ["w"]
    one_error(duralua_cli("run", op, "--db", db, "--call", "op:hello"), "is full")


# ---------------------------------------------------------------------------------------------
# --synchronous
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["OFF; DROP TABLE runs", "fast", ""])
def test_synchronous_is_validated(op: Path, db: Path, value: str) -> None:
    assert wf(op, db, "start", "op:waiter", "--id", "w").returncode == 0
    line = one_error(duralua_cli("run", op, "--db", db, "--synchronous", value, "--call", "op:hello"), "--synchronous")
    assert "OFF, NORMAL, FULL, EXTRA" in line
    assert [r["workflow_id"] for r in json_out(wf(op, db, "list", "--json"))] == ["w"]


@pytest.mark.parametrize("value", ["normal", "Full", "EXTRA", "off"])
def test_synchronous_accepts_any_case(op: Path, db: Path, value: str) -> None:
    proc = duralua_cli("run", op, "--db", db, "--synchronous", value, "--call", "op:hello")
    assert proc.returncode == 0, proc.stderr
    assert json_out(proc) == "hello nil"


# ---------------------------------------------------------------------------------------------
# commands that need an engine, when none runs
# ---------------------------------------------------------------------------------------------


def test_no_busy_wait_while_an_activity_is_in_backoff(op: Path, db: Path) -> None:
    """Before: every command drove the engine until idle, which an activity in retry backoff
    never is: 100% CPU for ever."""
    before = children_cpu()
    began = time.monotonic()
    proc = wf(op, db, "start", "op:retrying", "--id", "r", timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert "it runs when `duralua run` serves the app" in proc.stdout
    assert wf(op, db, "start", "op:waiter", "--id", "w", timeout=30).returncode == 0
    assert wf(op, db, "signal", "w", "go", '"now"', timeout=30).returncode == 0
    assert wf(op, db, "start", "op:waiter", "--id", "w2", timeout=30).returncode == 0
    assert wf(op, db, "cancel", "w2", timeout=30).returncode == 0
    assert wf(op, db, "terminate", "r", timeout=30).returncode == 0
    elapsed, cpu = time.monotonic() - began, children_cpu() - before
    assert elapsed < 30 and cpu < 15, (elapsed, cpu)
    runs = {r["workflow_id"]: r["status"] for r in json_out(wf(op, db, "list", "--json"))}
    assert runs["r"] == "terminated"


def test_start_wait_without_engine_is_bounded(op: Path, db: Path) -> None:
    began = time.monotonic()
    proc = wf(op, db, "start", "op:napper", '"1h"', "--id", "n", "--wait", "--timeout", "1")
    assert proc.returncode == 2, proc.stderr
    assert "still running after 1 s; it continues when `duralua run` serves the app" in proc.stdout
    assert time.monotonic() - began < 20
    proc = wf(op, db, "start", "op:quick", '"x"', "--id", "q", "--wait")
    assert proc.returncode == 0, proc.stderr
    assert json_out(proc) == {"echo": "x"}


def test_result_wait_without_engine_says_so_at_once(op: Path, db: Path) -> None:
    assert wf(op, db, "start", "op:waiter", "--id", "w").returncode == 0
    began = time.monotonic()
    line = one_error(wf(op, db, "result", "w", "--wait"), f"no engine is serving {db}", code=2)
    assert "start `duralua run`" in line
    assert time.monotonic() - began < 15
    proc = wf(op, db, "result", "w", "--wait", "--json")
    assert proc.returncode == 2
    assert json_out(proc) == {"workflow_id": "w", "status": "running", "served": False}


# ---------------------------------------------------------------------------------------------
# commands against a running `duralua run`
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def served(op: Path, db: Path) -> Iterator[Served]:
    with serve(op, db) as s:
        yield s


def test_start_wait_against_a_running_engine(op: Path, db: Path, served: Served) -> None:
    """Before: `no workflow with id` at once, 6 of 6 times (the start was not applied yet)."""
    for i in range(6):
        proc = wf(op, db, "start", "op:quick", str(i), "--id", f"q{i}", "--wait")
        assert proc.returncode == 0, proc.stderr
        assert json_out(proc) == {"echo": i}


def test_signal_reports_delivery(op: Path, db: Path, served: Served) -> None:
    proc = wf(op, db, "start", "op:waiter", "--id", "w", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json_out(proc)["status"] == "running"
    proc = wf(op, db, "signal", "w", "go", '{"n": 1}', "--json")
    assert proc.returncode == 0, proc.stderr
    assert json_out(proc)["sent"] is True
    proc = wf(op, db, "result", "w", "--wait", "--timeout", "30", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json_out(proc)["result"] == {"topic": "go", "payload": {"n": 1}}


def test_signal_the_engine_refuses_is_an_error(op: Path, db: Path, served: Served) -> None:
    """Before: `sent`, exit 0, whatever the engine then made of it."""
    assert wf(op, db, "start", "op:waiter", "--id", "w").returncode == 0
    one_error(wf(op, db, "signal", "w", "@timer/1"), "is reserved")
    proc = wf(op, db, "signal", "w", "@timer/1", "--json")
    assert proc.returncode == 1
    assert json_out(proc)["error"]["kind"] == "Invalid"
    assert json_out(wf(op, db, "describe", "w", "--json"))["status"] == "running"


def _wait_until_queued(db: Path, kind: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    with closing(sqlite3.connect(db)) as conn:
        while not conn.execute("SELECT 1 FROM requests WHERE kind = ? AND state = 'queued'", (kind,)).fetchone():
            assert time.monotonic() < deadline, f"no {kind} request queued in {timeout} s"
            time.sleep(0.05)


def test_signal_to_a_workflow_that_closed_before_the_engine_applied_it(op: Path, db: Path, served: Served) -> None:
    """Before: `sent`, exit 0, although the workflow was terminated first."""
    assert wf(op, db, "start", "op:waiter", "--id", "w").returncode == 0
    os.kill(served.proc.pid, signal.SIGSTOP)
    try:
        store = Store(db)
        with store.transaction() as conn:
            pid = json_out(wf(op, db, "describe", "w", "--json"))["pid"]
            Store.add_request(conn, "terminate", {"pid": pid, "reason": "first"}, time.time_ns())
        store.close()
        sender = _background("workflow", "signal", "w", "go", "--dir", op, "--db", db)
        _wait_until_queued(db, "signal")  # the CLI saw the run still running and queued its signal
    finally:
        os.kill(served.proc.pid, signal.SIGCONT)
    out, err = sender.communicate(timeout=30)
    assert sender.returncode == 1, (out, err)
    assert "sent" not in out
    assert "is not running (status terminated)" in err
    assert "Traceback" not in err


def test_a_change_the_engine_does_not_apply_in_time_stays_queued(op: Path, db: Path, served: Served) -> None:
    assert wf(op, db, "start", "op:waiter", "--id", "w").returncode == 0
    os.kill(served.proc.pid, signal.SIGSTOP)
    try:
        began = time.monotonic()
        proc = wf(op, db, "signal", "w", "go", '"late"', "--timeout", "3")
        assert time.monotonic() - began < 20
    finally:
        os.kill(served.proc.pid, signal.SIGCONT)
    one_error(proc, "is queued but not applied yet (the engine did not apply it within 3 s)", code=2)
    assert f"waiting for the engine serving {db} to apply the signal 'go'" in proc.stderr
    proc = wf(op, db, "result", "w", "--wait", "--timeout", "30", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json_out(proc)["result"] == {"topic": "go", "payload": "late"}


def test_result_wait_times_out_and_notices_a_stopped_engine(op: Path, db: Path) -> None:
    with serve(op, db) as s:
        assert wf(op, db, "start", "op:waiter", "--id", "w").returncode == 0
        one_error(wf(op, db, "result", "w", "--wait", "--timeout", "1"), "still running after 1 s", code=2)
        waiter = _background("workflow", "result", "w", "--wait", "--dir", op, "--db", db)
        time.sleep(1)
        assert s.stop() == 143
    _out, err = waiter.communicate(timeout=30)
    assert waiter.returncode == 2
    assert "no engine is serving" in err


def test_start_refused_by_the_engine_is_an_error(op: Path, db: Path, served: Served) -> None:
    one_error(wf(op, db, "start", "op:quick", "1", "--id", "{a@b|c}"), "looks like a PID")
    proc = wf(op, db, "start", "op:quick", "1", "--id", "{a@b|c}", "--json")
    assert proc.returncode == 1
    assert "looks like a PID" in json_out(proc)["error"]["message"]


# ---------------------------------------------------------------------------------------------
# run --call and signals
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["INT", "TERM"])
def test_run_call_stops_on_signals(op: Path, db: Path, sig: int, code: int) -> None:
    """Before: the process ignored both and waited for the hour-long workflow."""
    served = start_served(op, db, "--call", "op:nap_then_return")
    time.sleep(1)  # the call has started its workflow
    began = time.monotonic()
    assert served.stop(sig, timeout=20) == code
    assert time.monotonic() - began < 20
    assert "stopping" in served.stderr
    assert "Traceback" not in served.stderr
    runs = json_out(wf(op, db, "list", "--json"))
    assert [(r["workflow_type"], r["status"]) for r in runs] == [("op:napper", "running")]  # durable, not killed


def test_run_stops_on_sigterm(op: Path, db: Path) -> None:
    served = start_served(op, db)
    assert served.stop(signal.SIGTERM) == 143
    assert "Traceback" not in served.stderr


# ---------------------------------------------------------------------------------------------
# user text is never Rich markup
# ---------------------------------------------------------------------------------------------

MARKUP = "[/] [bold]x[/bold] [completed] [red]"


def test_error_messages_are_printed_verbatim(op: Path) -> None:
    proc = duralua_cli("call", "op:raise", json.dumps(MARKUP), "--dir", op)
    line = one_error(proc, MARKUP)
    assert line == f"Internal: {MARKUP}"


def test_run_data_is_printed_verbatim(op: Path, db: Path) -> None:
    wid = "[bold]order[/] [completed]"
    proc = wf(op, db, "start", "op:quick", json.dumps(MARKUP), "--id", wid, "--wait")
    assert proc.returncode == 0, proc.stderr
    assert MARKUP in proc.stdout
    for command in ("list", "describe", "history"):
        proc = wf(op, db, command, *([] if command == "list" else [wid]))
        assert proc.returncode == 0, proc.stderr
        assert wid in proc.stdout, (command, proc.stdout)
    assert MARKUP in wf(op, db, "describe", wid).stdout
    assert wf(op, db, "start", "op:waiter", "--id", "w").returncode == 0
    assert wf(op, db, "terminate", "w", "--reason", MARKUP).returncode == 0
    assert MARKUP in wf(op, db, "describe", "w").stdout
    assert MARKUP in wf(op, db, "list").stdout
    one_error(wf(op, db, "describe", "[/]"), "no workflow with id [/]")


def test_check_prints_problems_verbatim(tmp_path: Path) -> None:
    app = tmp_path / "app"
    (app / "src").mkdir(parents=True)
    (app / "wippy.lock").write_text("directories:\n  src: ./src\n")
    (app / "src" / "_index.yaml").write_text(
        'version: "1.0"\nnamespace: app\nentries:\n  - {name: "[/]", kind: "[bold]nope[/]", source: "x"}\n'
    )
    proc = duralua_cli("check", app)
    assert_no_traceback(proc)
    assert "kind [bold]nope[/] is not supported" in proc.stderr


# ---------------------------------------------------------------------------------------------
# import cycles
# ---------------------------------------------------------------------------------------------

CYCLIC = """\
version: "1.0"
namespace: app
entries:
  - name: a
    kind: library.lua
    source: "local b = require('b') return {}"
    imports: {b: b}
  - name: b
    kind: library.lua
    source: "local a = require('a') return {}"
    imports: {a: a}
  - name: main
    kind: function.lua
    source: "local a = require('a') return function() return 1 end"
    method: main
    imports: {a: a}
"""


def test_import_cycles_are_reported_by_check_and_by_loading(tmp_path: Path) -> None:
    """Before: `check` said ok and the call died with a C stack overflow."""
    app = tmp_path / "app"
    (app / "src").mkdir(parents=True)
    (app / "wippy.lock").write_text("directories:\n  src: ./src\n")
    (app / "src" / "_index.yaml").write_text(CYCLIC)
    proc = duralua_cli("check", app)
    assert proc.returncode == 1
    assert_no_traceback(proc)
    [line] = [line for line in error_lines(proc) if line.startswith("error ")]
    assert "import cycle: app:a (src/_index.yaml:7) imports app:b (src/_index.yaml:11) imports app:a" in line
    assert line.startswith("error src/_index.yaml:7 entry app:a:")
    proc = duralua_cli("check", app, "--json")
    [problem] = json_out(proc)["problems"]
    assert (problem["file"], problem["line"], problem["entry"]) == ("src/_index.yaml", 7, "app:a")
    one_error(duralua_cli("call", "app:main", "--dir", app), "import cycle")
