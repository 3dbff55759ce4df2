"""One engine per database, whatever path names it.

Three layers, because each alone has a hole:

* a ``.lock`` file next to the *resolved* database path, locked through the ``filelock``
  library so that it works on every platform (``flock`` on Linux and macOS, ``LockFileEx`` on
  Windows). The CLI probes it cheaply to decide whether to queue a request for a running
  engine or to drive one itself. Either lock dies with the process, so a SIGKILLed engine
  never blocks its successor;
* where ``fcntl`` exists (Linux, macOS, the BSDs), an exclusive ``flock`` on the database
  file itself: a hard link or another spelling of the path reaches the same inode, and
  deleting the ``.lock`` file cannot lift it. Windows has no lock that can share the file
  with SQLite's own byte-range locks, so there the next layer covers these cases;
* an owner row in the database (``meta.owner``), checked in every write transaction. It
  catches what file locks cannot see: a hard link on Windows, file systems without locks,
  and a second engine that somehow got in anyway (the first then stops instead of
  double-running).

The identity (device, inode) of the file opened at start is kept, so a database deleted or
replaced under a running engine is noticed (:meth:`OwnerLock.file_changed`).

Caveat of POSIX locks: closing *any* descriptor of a file drops the process's fcntl locks on
it, SQLite's included. The descriptor held here is therefore closed only after the engine's
own connection is closed.
"""

from __future__ import annotations

import errno
import os
import socket
import sqlite3
import time
import uuid
import warnings
from pathlib import Path

from filelock import FileLock, SoftFileLock, Timeout

from ..codec import decode
from ..errors import EngineError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

# A CLI probe holds a lock for microseconds: an engine starting at that moment waits this long
# before it concludes that another engine holds the database.
GRACE = 0.2
# flock errors that mean "this file system has no locks", not "someone holds it".
_NO_LOCKS = {errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOLCK}


def _try_flock(fd: int, mode: int) -> bool | None:
    """True when locked, False when held elsewhere, None when the file system cannot lock."""
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as exc:
        if exc.errno in _NO_LOCKS:
            return None
        raise
    return True


class OwnerLock:
    """Exclusive ownership of one database file by one engine."""

    def __init__(self, db_path: str | Path) -> None:
        self.db_path = Path(db_path)
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._side: FileLock | None = None
        self._main: int | None = None
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
            side = self._lock_side()
        except OSError as exc:
            raise EngineError(
                f"cannot lock the database {self.db_path}: {exc.strerror or exc} ({self.side_path})",
                hint="an engine needs a writable directory; read-only commands (list, describe) still work",
            ) from None
        flags = os.O_RDWR | (os.O_CREAT if create else 0)
        try:
            main = os.open(real, flags, 0o644)
        except OSError as exc:
            if side is not None:
                side.release()
            raise EngineError(f"cannot open database {self.db_path}: {exc.strerror}") from None
        if not self._lock_main(main):
            os.close(main)
            if side is not None:
                side.release()
            raise self._busy("the lock file next to it was removed or it is reached by another path")
        st = os.fstat(main)
        self.identity = (st.st_dev, st.st_ino)
        self._side, self._main = side, main

    def _lock_side(self) -> FileLock | None:
        """The ``.lock`` file's lock, or None on a file system that cannot lock (the owner row guards)."""
        lock = FileLock(self.side_path, thread_local=False)
        try:
            with warnings.catch_warnings():
                # Recent filelock versions fall back to a lock-by-existence file, with a warning, where
                # flock is missing; it is released below, so the warning would only mislead.
                warnings.simplefilter("ignore")
                lock.acquire(timeout=GRACE, poll_interval=0.02)
        except Timeout:
            raise self._busy() from None
        except NotImplementedError:  # older filelock on a file system without flock
            return None
        if isinstance(lock, SoftFileLock):
            # A lock-by-existence file outlives a SIGKILLed engine and would lock its successor out.
            lock.release()
            return None
        return lock

    def _lock_main(self, fd: int) -> bool:
        if fcntl is None:  # Windows: the owner row covers hard links
            return True
        deadline = time.monotonic() + GRACE
        while True:
            locked = _try_flock(fd, fcntl.LOCK_EX)
            if locked is None or locked:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)

    def _busy(self, how: str = "") -> EngineError:
        holder = self._holder() or "another engine"
        return EngineError(
            f"the database {self.db_path} is already driven by {holder}" + (f" ({how})" if how else ""),
            hint="stop that `duralua run` first, or use `duralua workflow ...` commands, which talk to it",
        )

    def _holder(self) -> str | None:
        """The process named by the owner row that the running engine wrote, if it can be read."""
        try:
            if os.stat(self.real_path).st_nlink > 1:
                # Reached by a hard link: the holder's recent commits sit in the -wal file of its
                # own path, so the row read here would be stale or missing.
                return None
            conn = sqlite3.connect(f"{self.real_path.as_uri()}?mode=ro", uri=True, timeout=GRACE)
            try:
                row = conn.execute("SELECT value FROM meta WHERE key = 'owner'").fetchone()
            finally:
                conn.close()
            owner = decode(row[0]) if row else None
        except (OSError, sqlite3.Error, ValueError):
            return None
        token = owner.get("token") if isinstance(owner, dict) else None
        parts = str(token).rsplit(":", 2) if token else []
        return f"pid {parts[1]} on {parts[0]}" if len(parts) == 3 else None

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
        if self._main is not None:
            try:
                os.close(self._main)  # closing drops the flock
            except OSError:
                pass
            self._main = None
        if self._side is not None:
            self._side.release()
            self._side = None

    def held_elsewhere(self) -> bool:
        """True if an engine in another process holds this database (probe for the CLI).

        Call it before opening any SQLite connection to the database in this process: probing
        the database file opens and closes a descriptor of it (see the module docstring)."""
        if fcntl is None:
            return self._probe_side()
        return any(self._probe(path) for path in (self.side_path, self.real_path))

    def _probe_side(self) -> bool:
        # Without flock there is no shared lock to probe with: take and drop the exclusive one,
        # waiting out another CLI's probe.
        if not self.side_path.exists():
            return False
        lock = FileLock(self.side_path, thread_local=False)
        try:
            lock.acquire(timeout=GRACE, poll_interval=0.02)
        except Timeout:
            return True
        except (OSError, NotImplementedError):
            return False
        lock.release()
        return False

    @staticmethod
    def _probe(path: Path) -> bool:
        # A shared lock: CLI probes do not see each other, only an engine's exclusive lock.
        if not path.exists():
            return False
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return False
        try:
            return _try_flock(fd, fcntl.LOCK_SH) is False
        finally:
            os.close(fd)


# The former name, kept for callers outside the engine.
ProcessLock = OwnerLock
