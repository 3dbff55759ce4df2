"""The local name registry: one table of names per node, shared by every host and function call
(spec processes.md §8.6). Only the LOCAL scope exists on a single node."""

from __future__ import annotations

from ..core.pid import parse_pid
from ..errors import ALREADY_EXISTS, INTERNAL, INVALID, Failure, not_found

SCOPES = {0: "local", 1: "eventual", 2: "consistent", 3: "strong"}


class NameRegistry:
    """Names -> PIDs. A PID may hold several names; a name has one holder."""

    def __init__(self) -> None:
        self._pid_of: dict[str, str] = {}
        self._names_of: dict[str, set[str]] = {}

    def register(self, name: object, pid: object, scope: object = None) -> Failure | None:
        """Register ``name`` for ``pid``; the failure, if any (kinds as in Wippy)."""
        if not isinstance(name, str) or not name:
            return Failure("name must be a non-empty string", INVALID, False)
        if not isinstance(pid, str):
            return Failure("pid must be a string", INVALID, False)
        if parse_pid(pid) is None:
            return Failure(f"invalid pid: {pid}", INVALID, False)
        if scope not in (None, 0):
            label = SCOPES.get(scope, str(scope)) if isinstance(scope, int) else str(scope)
            return Failure(f"{label} registry not available on a single node", INTERNAL, False)
        holder = self._pid_of.get(name)
        if holder == pid:
            return None
        if holder is not None:
            return Failure(f"name already registered: {name}", ALREADY_EXISTS, False)
        self._pid_of[name] = pid
        self._names_of.setdefault(pid, set()).add(name)
        return None

    def lookup(self, name: str) -> str | None:
        return self._pid_of.get(name)

    def lookup_or_error(self, name: object) -> tuple[str | None, Failure | None]:
        if isinstance(name, str):
            pid = self._pid_of.get(name)
            if pid is not None:
                return pid, None
        return None, not_found("name not registered")

    def unregister(self, name: object) -> bool:
        """Remove a name whoever holds it (no owner check, as in Wippy)."""
        if not isinstance(name, str):
            return False
        pid = self._pid_of.pop(name, None)
        if pid is None:
            return False
        names = self._names_of.get(pid)
        if names is not None:
            names.discard(name)
            if not names:
                del self._names_of[pid]
        return True

    def drop(self, pid: str) -> None:
        """A process completed: its names go (before its monitors hear of the exit)."""
        for name in self._names_of.pop(pid, ()):
            self._pid_of.pop(name, None)

    def names_of(self, pid: str) -> list[str]:
        return sorted(self._names_of.get(pid, ()))

    def __len__(self) -> int:
        return len(self._pid_of)
