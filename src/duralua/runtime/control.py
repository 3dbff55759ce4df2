"""The control channel: how CLI commands reach a running app.

``duralua run`` listens on a Unix socket next to the app's database (``<db>.sock``; a short
path under the temp directory when that would exceed the socket path limit), on either
engine. A command connects, writes one JSON request line and reads one JSON answer line:

* ``{"op": "ping"}`` -> ``{"ok": true, "pid": ..., "app": ...}``
* ``{"op": "call", "entry": "ns:fn", "args": [...]}`` -> ``{"result": ...}`` or ``{"error": {...}}``:
  the function runs *inside* the served runtime, so its spawns and sends reach the served
  workflows and processes;
* ``{"op": "services"}`` -> ``{"services": [...]}`` (the supervisor's table);
* ``{"op": "hosts"}`` -> ``{"hosts": [...]}``;
* ``{"op": "runtime"}`` -> ``{"runtime": {...}}``: services, hosts and live processes (what the
  web UI's Services page shows; :meth:`~.boot.RuntimeServices.snapshot`).

The socket is created with mode 0600 (only the app's user may drive it). A stale socket
(nobody accepts) is replaced; a live one means another ``duralua run`` serves the app, and
this one then runs without a control channel (with a warning).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import socket
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ..codec import to_plain

MAX_REQUEST = 16 * 1024 * 1024
_SUN_PATH_MAX = 100  # sockaddr_un.sun_path is 104-108 bytes; keep room

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


def socket_path(db: str | Path) -> Path:
    """Where the control socket of the app serving ``db`` lives (the same rule everywhere)."""
    real = Path(os.path.realpath(db))
    path = Path(str(real) + ".sock")
    if len(os.fsencode(path)) <= _SUN_PATH_MAX:
        return path
    digest = hashlib.sha256(os.fsencode(real)).hexdigest()[:20]
    return Path(tempfile.gettempdir()) / f"duralua-{digest}.sock"


def _alive(path: Path, timeout: float = 0.5) -> bool:
    if not path.exists():
        return False
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(path))
    except OSError:
        return False
    finally:
        sock.close()
    return True


class ControlServer:
    """Serves the control channel of a running app."""

    def __init__(self, path: Path, handler: Handler) -> None:
        self.path = path
        self.handler = handler
        self._server: asyncio.AbstractServer | None = None
        self.note = ""

    async def start(self) -> bool:
        """Listen; False (with :attr:`note` saying why) when another app already does."""
        if _alive(self.path):
            self.note = f"another duralua serves this app (control socket {self.path}); `duralua call` reaches that one"
            return False
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            old = os.umask(0o177)
            try:
                self._server = await asyncio.start_unix_server(self._serve, path=str(self.path), limit=MAX_REQUEST)
            finally:
                os.umask(old)
        except OSError as exc:
            self.note = f"no control channel: cannot listen on {self.path}: {exc.strerror or exc}"
            return False
        return True

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await reader.readline()
            try:
                request = json.loads(line)
                if not isinstance(request, dict):
                    raise ValueError("a request is a JSON object")
            except ValueError as exc:
                answer: dict[str, Any] = {"error": {"message": f"bad control request: {exc}", "kind": "Invalid"}}
            else:
                try:
                    answer = await self.handler(request)
                except Exception as exc:  # the channel answers, the app keeps serving
                    answer = {"error": {"message": f"{type(exc).__name__}: {exc}", "kind": "Internal"}}
            writer.write(json.dumps(to_plain(answer), ensure_ascii=False).encode("utf-8") + b"\n")
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()


class ControlUnavailable(Exception):
    """No app serves this database (or it stopped answering)."""


def request(path: Path, body: dict[str, Any], timeout: float | None = 30.0) -> dict[str, Any]:
    """Send one request to the app listening on ``path``; raises :class:`ControlUnavailable`
    when nothing listens, TimeoutError when it does not answer within ``timeout``."""
    if not path.exists():
        raise ControlUnavailable(str(path))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(2.0)
    try:
        try:
            sock.connect(str(path))
        except OSError as exc:
            raise ControlUnavailable(f"{path}: {exc.strerror or exc}") from None
        sock.settimeout(timeout)
        sock.sendall(json.dumps(body, ensure_ascii=False).encode("utf-8") + b"\n")
        chunks: list[bytes] = []
        while True:
            try:
                data = sock.recv(65536)
            except TimeoutError:
                raise TimeoutError(f"the running app did not answer within {timeout:g} s") from None
            if not data:
                break
            chunks.append(data)
            if data.endswith(b"\n"):
                break
    finally:
        sock.close()
    raw = b"".join(chunks)
    if not raw:
        raise ControlUnavailable(f"{path}: the app closed the connection without answering")
    answer = json.loads(raw)
    if not isinstance(answer, dict):
        raise ControlUnavailable(f"{path}: unexpected answer")
    return answer


def serving(path: Path) -> bool:
    """True if an app answers on the control socket ``path``."""
    return _alive(path)
