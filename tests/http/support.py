"""Helpers of the HTTP tests: the test apps, a served app on 127.0.0.1, free ports, raw sockets."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from duralua import App
from duralua.app import Workflows
from duralua.http import HttpServices

HERE = Path(__file__).parent
WEB = HERE / "apps" / "web"
CLIENT = HERE / "apps" / "client"
API = "web:api_server"
EDGE = "web:edge_server"
T = TypeVar("T")


def run(body: Callable[[], Coroutine[Any, Any, T]], timeout: float = 60) -> T:
    async def main() -> T:
        return await asyncio.wait_for(body(), timeout)

    return asyncio.run(main())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    app: App
    wf: Workflows
    web: HttpServices
    lines: list[tuple[str, str]] = field(default_factory=list)

    def url(self, service: str = API) -> str:
        return self.web.addresses[service]

    def access_log(self, service: str = API) -> list[str]:
        return [text for who, text in self.lines if who == service]


@asynccontextmanager
async def serving(db: Path, app_dir: Path = WEB, **app_kw: Any) -> AsyncIterator[Served]:
    """The app on the embedded engine with its HTTP services on 127.0.0.1 (free ports)."""
    lines: list[tuple[str, str]] = []
    app = App(app_dir, log=lambda who, text: lines.append((who, text)), **app_kw)
    async with app.engine(db=db) as wf, app.http_services() as web:
        yield Served(app, wf, web, lines)


async def raw_exchange(url: str, data: bytes, *, wait: float = 5.0) -> bytes:
    """Send raw bytes to the server of ``url`` and read until it closes (or ``wait`` passes)."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(data)
        await writer.drain()
        out = b""
        try:
            async with asyncio.timeout(wait):
                while chunk := await reader.read(65536):
                    out += chunk
        except TimeoutError:
            pass
        return out
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass


# -- `duralua run` in a subprocess ------------------------------------------------------------

SRC = HERE.parents[1] / "src"
DURALUA = Path(sys.executable).with_name("duralua")


def cli_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "COLUMNS": "1000", "NO_COLOR": "1", "TERM": "dumb", **extra}
    env["PYTHONPATH"] = os.environ.get("PYTHONPATH") or str(SRC)
    return env


class Run:
    """``duralua run`` in the background, its output in files (never a pipe nobody reads)."""

    def __init__(self, tmp: Path, *args: str | Path, env: dict[str, str]) -> None:
        n = len(list(tmp.glob("run*.err")))
        self.err_path = tmp / f"run{n}.err"
        self._out = open(tmp / f"run{n}.out", "w")  # noqa: SIM115 - closed in stop()
        self._err = open(self.err_path, "w")  # noqa: SIM115
        argv = [str(DURALUA), "run", *map(str, args)]
        self.popen = subprocess.Popen(argv, stdout=self._out, stderr=self._err, text=True, env=env)

    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.stderr():
                return
            if self.popen.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not printed by duralua run; stderr:\n{self.stderr()}")

    def stop(self, sig: int = signal.SIGKILL, timeout: float = 60) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
        code = self.popen.wait(timeout)
        self._out.close()
        self._err.close()
        return code
