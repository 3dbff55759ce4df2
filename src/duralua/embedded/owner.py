"""One engine per database, whatever path names it.

Three layers, because each alone has a hole:

* an exclusive ``flock`` on the database file itself: a symlink, a hard link or a relative
  path all reach the same inode, and deleting a side file cannot lift it. It dies with the
  process, so a SIGKILLed engine never blocks its successor;
* a ``.lock`` file next to the *resolved* database path, which the CLI probes cheaply to
  decide whether to queue a request for a running engine or to drive one itself;
* an owner row in the database (``meta.owner``), checked in every write transaction. It
  catches what file locks cannot see: platforms or file systems without ``flock``, and a
  second engine that somehow got in anyway (the first then stops instead of double-running).

The identity (device, inode) of the file opened at start is kept, so a database deleted or
replaced under a running engine is noticed (:meth:`OwnerLock.file_changed`).

Caveat of POSIX locks: closing *any* descriptor of a file drops the process's fcntl locks on
it, SQLite's included. The descriptor held here is therefore closed only after the engine's
own connection is closed.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from pathlib import Path

from ..errors import EngineError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: the owner row is the only guard there
    fcntl = None  # type: ignore[assignment]


def _try_flock(fd: int) -> bool:
    if fcntl is None:  # pragma: no cover
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class OwnerLock:
    """Exclusive ownership of one database file by one engine."""

    def __init__(self, db_path: str | Path) -> None:
        self.db_path = Path(db_path)
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._fds: list[int] = []
        self.identity: tuple[int, int] | None = None

    @property
    def real_path(self) -> Path:
        return Path(os.path.realpath(self.db_path))

    @property
    def side_path(self) -> Path:
        return Path(str(self.real_path) + ".lock")

    def acquire(self, *, create: bool = True) -> None:
        real = self.real_path
        if not real.exists() and not create:
            raise EngineError(f"no database at {self.db_path}", hint="check --db, or start a workflow first")
        try:
            real.parent.mkdir(parents=True, exist_ok=True)
            side = os.open(self.side_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise EngineError(
                f"cannot lock the database {self.db_path}: {exc.strerror} ({self.side_path})",
                hint="an engine needs a writable directory; read-only commands (list, describe) still work",
            ) from None
        if not self._lock_or_wait(side):
            holder = os.read(side, 200).decode(errors="replace").strip() or "another process"
            os.close(side)
            raise self._busy(holder)
        flags = os.O_RDWR | (os.O_CREAT if create else 0)
        try:
            main = os.open(real, flags, 0o644)
        except OSError as exc:
            os.close(side)
            raise EngineError(f"cannot open database {self.db_path}: {exc.strerror}") from None
        if not self._lock_or_wait(main):
            os.close(main)
            os.close(side)
            raise self._busy("another engine (the lock file next to it was removed or it is reached by another path)")
        os.ftruncate(side, 0)
        os.write(side, f"pid {os.getpid()} on {socket.gethostname()}".encode())
        st = os.fstat(main)
        self.identity = (st.st_dev, st.st_ino)
        self._fds = [main, side]

    def _lock_or_wait(self, fd: int) -> bool:
        # A CLI probe holds the side lock for microseconds: retry briefly before refusing.
        for _ in range(10):
            if _try_flock(fd):
                return True
            time.sleep(0.02)
        return False

    def _busy(self, holder: str) -> EngineError:
        return EngineError(
            f"the database {self.db_path} is already driven by {holder}",
            hint="stop that `duralua run` first, or use `duralua workflow ...` commands, which talk to it",
        )

    def file_changed(self) -> str | None:
        """Why the database file at the path is no longer the one opened at start, if it is not."""
        if self.identity is None:
            return None
        try:
            st = os.stat(self.real_path)
        except FileNotFoundError:
            return f"the database file {self.db_path} was deleted while the engine was serving it"
        except OSError as exc:
            return f"the database file {self.db_path} cannot be checked: {exc.strerror}"
        if (st.st_dev, st.st_ino) != self.identity:
            return f"the database file {self.db_path} was replaced by another file while the engine was serving it"
        return None

    def release(self) -> None:
        for fd in self._fds:
            try:
                os.close(fd)  # closing drops the flock
            except OSError:
                pass
        self._fds = []

    def held_elsewhere(self) -> bool:
        """True if an engine in another process holds this database (probe for the CLI).

        Call it before opening any SQLite connection to the database in this process: probing
        the database file opens and closes a descriptor of it (see the module docstring)."""
        return any(self._probe(path) for path in (self.side_path, self.real_path))

    @staticmethod
    def _probe(path: Path) -> bool:
        if fcntl is None or not path.exists():  # pragma: no cover - fcntl missing on Windows
            return False
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False


# The former name, kept for callers outside the engine.
ProcessLock = OwnerLock
