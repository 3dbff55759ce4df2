"""The single-owner lock on its own: across processes, without ``fcntl`` (the Windows code
path) and on a file system without locks. The engine-level guarantees (symlinks, hard links,
a deleted ``.lock`` file, the owner row) are in test_storage_faults.py and
tests/faults/test_owner.py."""

from __future__ import annotations

import errno
import fcntl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from duralua.embedded import owner
from duralua.embedded.owner import OwnerLock
from duralua.errors import EngineError

HOLD = """
import sys
from duralua.embedded.owner import OwnerLock
lock = OwnerLock(sys.argv[1])
lock.acquire()
print("held", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    """A database whose lock another process holds until the test ends or kills it."""
    db = tmp_path / "held.db"
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        yield db, proc
    finally:
        proc.kill()
        proc.communicate(timeout=10)  # (closes the pipes)


@pytest.fixture
def no_fcntl(monkeypatch: pytest.MonkeyPatch) -> None:
    """The code path of platforms without fcntl: only filelock's lock on the ``.lock`` file."""
    monkeypatch.setattr(owner, "fcntl", None)


def test_a_lock_held_by_another_process_is_seen_and_refused(holder: tuple[Path, Any]) -> None:
    db, _proc = holder
    assert OwnerLock(db).held_elsewhere()
    with pytest.raises(EngineError, match="already driven by another engine"):
        OwnerLock(db).acquire()


def test_a_killed_holder_does_not_block_its_successor(holder: tuple[Path, subprocess.Popen[str]]) -> None:
    db, proc = holder
    proc.kill()
    proc.wait(10)
    lock = OwnerLock(db)
    assert not lock.held_elsewhere()
    lock.acquire()
    lock.release()


@pytest.mark.usefixtures("no_fcntl")
def test_without_fcntl_the_lock_file_still_excludes_a_second_engine(holder: tuple[Path, Any], tmp_path: Path) -> None:
    db, _proc = holder
    assert OwnerLock(db).held_elsewhere()
    with pytest.raises(EngineError, match="already driven by"):
        OwnerLock(db).acquire()
    # In one process too, and released on release().
    mine = tmp_path / "mine.db"
    first = OwnerLock(mine)
    first.acquire()
    with pytest.raises(EngineError, match="already driven by"):
        OwnerLock(mine).acquire()
    first.release()
    assert not OwnerLock(mine).held_elsewhere()
    again = OwnerLock(mine)
    again.acquire()
    again.release()


def test_without_file_locks_the_owner_row_guards(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def unsupported(fd: int, op: int) -> None:
        raise OSError(errno.ENOSYS, "Function not implemented")

    monkeypatch.setattr(fcntl, "flock", unsupported)
    db = tmp_path / "nolocks.db"
    first = OwnerLock(db)
    first.acquire()
    # Nothing left on disk may lock out a successor: a killed engine could never remove it.
    second = OwnerLock(db)
    assert not second.held_elsewhere()
    second.acquire()
    second.release()
    first.release()
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".lock") in ([], ["nolocks.db.lock"])
