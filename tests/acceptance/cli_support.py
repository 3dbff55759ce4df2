"""Driving the real ``duralua`` executable from tests: one-shot commands and a served app."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DURALUA = Path(sys.executable).with_name("duralua")


def cli_env() -> dict[str, str]:
    env = {**os.environ, "COLUMNS": "1000", "NO_COLOR": "1", "TERM": "dumb"}
    env.pop("TEMPORAL_ADDRESS", None)
    return env


def duralua_cli(
    *args: str | Path, cwd: Path | None = None, timeout: float = 120, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(DURALUA), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=cli_env(),
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        **kwargs,
    )


def assert_no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stdout, proc.stdout


def json_out(proc: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(proc.stdout)


LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) ")


def log_lines(text: str) -> list[str]:
    """The log lines (time, level, text) in ``text``."""
    return [line for line in text.splitlines() if LOG_LINE.match(line)]


def error_lines(proc: subprocess.CompletedProcess[str]) -> list[str]:
    """stderr without the engine's log lines (``2026-05-01 12:00:00.123 INFO ...``) and the
    CLI's progress notes (``waiting for the engine ...``, printed when it takes a while)."""
    return [
        line
        for line in proc.stderr.splitlines()
        if line.strip() and not LOG_LINE.match(line) and not line.startswith("waiting for the engine")
    ]


class Served:
    """A ``duralua run`` in the background; its stderr is drained (and kept) by a thread, so
    a chatty engine never blocks on a full pipe."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self.stdout = ""
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)

    @property
    def stderr(self) -> str:
        return "".join(self.lines)

    def wait_for(self, fragment: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while fragment not in self.stderr:
            if self.proc.poll() is not None:
                raise AssertionError(f"duralua run exited with {self.proc.returncode}: {self.stderr}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {fragment!r} from duralua run after {timeout} s: {self.stderr}")
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise AssertionError(f"duralua run ignored signal {sig}: {self.stderr}") from None
        self._reader.join(5)
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.stdout = self.proc.stdout.read()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return code


def start_served(app_dir: Path, db: Path, *extra: str | Path) -> Served:
    proc = subprocess.Popen(
        [str(DURALUA), "run", str(app_dir), "--db", str(db), *map(str, extra)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(),
    )
    served = Served(proc)
    served.wait_for("serving")
    return served


@contextmanager
def serve(app_dir: Path, db: Path, *extra: str | Path) -> Iterator[Served]:
    served = start_served(app_dir, db, *extra)
    try:
        yield served
    finally:
        if served.proc.poll() is None:
            os.kill(served.proc.pid, signal.SIGCONT)  # a test may have paused it
            served.stop()
