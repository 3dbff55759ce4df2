"""Shared plumbing of the fault suite: real `duralua` processes and read-only database reads."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from duralua.codec import decode

HERE = Path(__file__).parent
APP = HERE / "app"
SRC = HERE.parents[1] / "src"
DURALUA = Path(sys.executable).with_name("duralua")
CLOSED = ("completed", "failed", "terminated", "canceled", "continued", "timed_out")

T = TypeVar("T")


def env() -> dict[str, str]:
    # The child processes import duralua from this checkout (or from an explicit PYTHONPATH).
    e = {**os.environ, "COLUMNS": "1000", "NO_COLOR": "1", "TERM": "dumb"}
    e["PYTHONPATH"] = os.environ.get("PYTHONPATH") or str(SRC)
    e.pop("TEMPORAL_ADDRESS", None)
    return e


def cli(*args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the real `duralua` executable."""
    return subprocess.run([str(DURALUA), *map(str, args)], capture_output=True, text=True, env=env(), timeout=timeout)


def wf_cli(db: Path, *args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`duralua workflow <args> --dir APP --db db`."""
    return cli("workflow", *args, "--dir", APP, "--db", db, timeout=timeout)


def has_traceback(text: str) -> bool:
    return "Traceback (most recent call last)" in text


def parallel(fn: Callable[..., T], calls: Iterable[tuple[Any, ...]], workers: int = 3) -> list[T]:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda args: fn(*args), calls))


class Proc:
    """A background process with its output in files (never a pipe nobody reads)."""

    def __init__(self, argv: list[str], out: Path, err: Path) -> None:
        self.argv = argv
        self.out_path, self.err_path = out, err
        self._out = open(out, "w")  # noqa: SIM115 - closed in close()
        self._err = open(err, "w")  # noqa: SIM115
        self.popen = subprocess.Popen(argv, stdout=self._out, stderr=self._err, text=True, env=env())

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stdout(self) -> str:
        return self.out_path.read_text(errors="replace")

    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def wait_for_stderr(self, text: str, timeout: float = 30) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.stderr():
                return True
            if not self.alive():
                return text in self.stderr()
            time.sleep(0.05)
        return False

    def wait_for_stdout(self, text: str, timeout: float = 30) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.stdout():
                return True
            if not self.alive():
                return text in self.stdout()
            time.sleep(0.05)
        return False

    def wait(self, timeout: float) -> int | None:
        """The exit code, or None if it is still running after ``timeout`` seconds."""
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def terminate(self, timeout: float = 10) -> int | None:
        """SIGTERM; the exit code, or None if it ignored SIGTERM for ``timeout`` seconds."""
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def kill(self) -> None:
        if self.alive():
            self.popen.send_signal(signal.SIGKILL)
        self.popen.wait()
        self.close()

    def close(self) -> None:
        self._out.close()
        self._err.close()


class Procs:
    """Every process a test starts; the fixture kills the survivors at teardown."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.all: list[Proc] = []
        self._n = 0

    def start(self, argv: list[str], name: str) -> Proc:
        self._n += 1
        proc = Proc(argv, self.tmp / f"{self._n:02d}-{name}.out", self.tmp / f"{self._n:02d}-{name}.err")
        self.all.append(proc)
        return proc

    def serve(self, db: Path, *, name: str = "run", ready: bool = True) -> Proc:
        """`duralua run APP --db db`, waiting until it serves (when ``ready``)."""
        proc = self.start([str(DURALUA), "run", str(APP), "--db", str(db)], name)
        if ready:
            assert proc.wait_for_stderr("serving", timeout=30), (
                f"duralua run did not come up (exit {proc.popen.poll()}):\n{proc.stderr()}"
            )
        return proc

    def python(self, script: Path, *args: str, name: str) -> Proc:
        return self.start([sys.executable, str(script), *args], name)

    def kill_all(self) -> None:
        for proc in self.all:
            proc.kill()


# -- read-only database access (the engine may be running) ---------------------------------------


def connect_ro(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


def runs(db: Path) -> list[dict[str, Any]]:
    """Every run row (oldest first), or [] if the database does not exist (yet)."""
    if not db.exists():
        return []
    try:
        conn = connect_ro(db)
    except sqlite3.Error:
        return []
    try:
        cur = conn.execute("SELECT * FROM runs ORDER BY start_ns, rowid")
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    except sqlite3.Error:
        return []
    finally:
        conn.close()


def count(db: Path, table: str) -> int:
    conn = connect_ro(db)
    try:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


def latest(db: Path) -> dict[str, dict[str, Any]]:
    """The latest run of each workflow id."""
    out: dict[str, dict[str, Any]] = {}
    for row in runs(db):
        out[row["workflow_id"]] = row
    return out


def result_of(row: dict[str, Any]) -> Any:
    return decode(row["result"]) if row.get("result") else None


def failure_message(row: dict[str, Any]) -> str:
    if not row.get("failure"):
        return ""
    try:
        return str(decode(row["failure"]).get("message") or "")
    except Exception:  # an undecodable failure is reported as such by the caller
        return "<undecodable failure>"


def why(row: dict[str, Any]) -> str:
    """The reason shown for a failed or held run (reason column or failure message)."""
    return (row.get("reason") or "").strip() or failure_message(row).strip()


def brief(row: dict[str, Any] | None) -> str:
    if row is None:
        return "no run (start never applied)"
    text = f"{row['status']}"
    reason = why(row)
    if reason:
        text += f" ({reason[:160]!r})"
    elif row["status"] == "completed":
        text += f" -> {str(row.get('result'))[:80]}"
    return text


def wait_until(
    check: Callable[[], bool], *, deadline: float, stall: float | None = None, state: Callable[[], Any] | None = None
) -> bool:
    """Poll ``check`` until it holds or ``deadline`` seconds pass; with ``stall``, give up early
    once ``state()`` has not changed for ``stall`` seconds (a dead engine makes no progress)."""
    end = time.monotonic() + deadline
    last, since = None, time.monotonic()
    while time.monotonic() < end:
        if check():
            return True
        if stall is not None and state is not None:
            now_state = state()
            if now_state != last:
                last, since = now_state, time.monotonic()
            elif time.monotonic() - since > stall:
                return check()
        time.sleep(0.2)
    return check()


def progress_state(db: Path) -> Any:
    """Something that changes whenever the engine commits anything."""
    return tuple((r["run_id"], r["status"], r["activations"]) for r in runs(db))


def json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def queued_requests(db: Path) -> int:
    """Requests from other processes not applied yet (older schemas delete applied ones)."""
    conn = connect_ro(db)
    try:
        cols = {r[1] for r in conn.execute("PRAGMA table_info(requests)")}
        where = " WHERE state = 'queued'" if "state" in cols else ""
        return int(conn.execute(f"SELECT COUNT(*) FROM requests{where}").fetchone()[0])
    finally:
        conn.close()
