"""The one error hierarchy of duralua.

Two families live here:

* :class:`Failure` is *data*: the application error that Lua code sees as an error object
  (``err:kind()``, ``err:message()``...) and that crosses every boundary (function results,
  activity results, workflow results). It is JSON-serialisable and never raised by itself.
* :class:`DuraluaError` and its subclasses are Python exceptions for the host: bad
  configuration, sandbox violations, non-determinism. Each carries enough context (file,
  line, entry id) to print a message a user can act on without a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Wippy error kinds (string values, as Lua sees them through ``errors.NOT_FOUND`` ...).
NOT_FOUND = "NotFound"
ALREADY_EXISTS = "AlreadyExists"
INVALID = "Invalid"
PERMISSION_DENIED = "PermissionDenied"
UNAVAILABLE = "Unavailable"
INTERNAL = "Internal"
CANCELED = "Canceled"
CONFLICT = "Conflict"
TIMEOUT = "Timeout"
RATE_LIMITED = "RateLimited"
UNKNOWN = ""

KINDS: dict[str, str] = {
    "NOT_FOUND": NOT_FOUND,
    "ALREADY_EXISTS": ALREADY_EXISTS,
    "INVALID": INVALID,
    "PERMISSION_DENIED": PERMISSION_DENIED,
    "UNAVAILABLE": UNAVAILABLE,
    "INTERNAL": INTERNAL,
    "CANCELED": CANCELED,
    "CONFLICT": CONFLICT,
    "TIMEOUT": TIMEOUT,
    "RATE_LIMITED": RATE_LIMITED,
    "UNKNOWN": UNKNOWN,
}


@dataclass(frozen=True)
class Failure:
    """An application error as data: what a Lua error object holds."""

    message: str
    kind: str = UNKNOWN
    retryable: bool | None = None
    details: dict[str, Any] | None = None
    stack: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message, "kind": self.kind}
        if self.retryable is not None:
            out["retryable"] = self.retryable
        if self.details is not None:
            out["details"] = self.details
        if self.stack:
            out["stack"] = self.stack
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Failure:
        retryable = data.get("retryable")
        details = data.get("details")
        return cls(
            message=str(data.get("message", "")),
            kind=str(data.get("kind", "")),
            retryable=retryable if isinstance(retryable, bool) else None,
            details=details if isinstance(details, dict) else None,
            stack=str(data.get("stack", "")),
        )

    def with_details(self, **extra: Any) -> Failure:
        merged = dict(self.details or {})
        merged.update(extra)
        return Failure(self.message, self.kind, self.retryable, merged, self.stack)

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}" if self.kind else self.message


def internal(message: str, retryable: bool | None = None) -> Failure:
    return Failure(message=message, kind=INTERNAL, retryable=retryable)


def invalid(message: str) -> Failure:
    return Failure(message=message, kind=INVALID, retryable=False)


def not_found(message: str, retryable: bool | None = False) -> Failure:
    return Failure(message=message, kind=NOT_FOUND, retryable=retryable)


# ---------------------------------------------------------------------------------------------
# Host exceptions
# ---------------------------------------------------------------------------------------------


@dataclass
class Location:
    """Where a problem is: a file, a line and/or an entry id. Any part may be unknown."""

    file: str | None = None
    line: int | None = None
    entry: str | None = None

    def __str__(self) -> str:
        parts = []
        if self.file:
            parts.append(f"{self.file}:{self.line}" if self.line else self.file)
        if self.entry:
            parts.append(f"entry {self.entry}")
        return " ".join(parts)


class DuraluaError(Exception):
    """Base of every exception duralua raises on purpose."""

    hint: str = ""

    def __init__(self, message: str, *, location: Location | None = None, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.location = location or Location()
        if hint:
            self.hint = hint

    def __str__(self) -> str:
        where = str(self.location)
        text = f"{where}: {self.message}" if where else self.message
        return f"{text} ({self.hint})" if self.hint else text


class ConfigError(DuraluaError):
    """The registry (YAML/JSON definitions, Lua sources, references) is invalid."""


@dataclass
class Problem:
    """One problem found while loading/validating an app (collected, not raised one by one)."""

    message: str
    location: Location = field(default_factory=Location)
    severity: str = "error"  # "error" | "warning"

    def __str__(self) -> str:
        where = str(self.location)
        return f"{where}: {self.message}" if where else self.message


class ConfigErrors(ConfigError):
    """Several configuration problems at once (``duralua check`` prints them all)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"]
        first = errors[0] if errors else problems[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(first.message + more, location=first.location)


class LuaError(DuraluaError):
    """Lua code failed to compile or raised; location points at the original source line."""


class SandboxViolation(LuaError):
    """Lua code tried to reach something the sandbox does not offer."""


class BudgetExceeded(LuaError):
    """A coroutine ran more instructions than its budget allows (e.g. ``while true do end``)."""


class MemoryLimitExceeded(LuaError):
    """A Lua state allocated more memory than its limit."""


class EncodeError(DuraluaError):
    """A value cannot cross a boundary (not JSON-representable, too big). Never retryable."""

    def __init__(self, message: str, path: str = "value") -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.reason = message


class NondeterminismError(DuraluaError):
    """Replay produced a command that differs from the recorded history."""

    def __init__(self, message: str, *, position: int, recorded: str, produced: str) -> None:
        super().__init__(message)
        self.position = position
        self.recorded = recorded
        self.produced = produced


class CallError(DuraluaError):
    """A function, activity or workflow failed with an application error.

    Raised by the Python API when a call fails, and raised *by* Python function entries to
    fail with a specific kind: ``raise CallError.of("card declined", kind="Invalid", retryable=False)``.
    """

    def __init__(self, failure: Failure) -> None:
        super().__init__(str(failure))
        self.failure = failure

    @classmethod
    def of(cls, message: str, *, kind: str = INTERNAL, retryable: bool | None = None,
           details: dict[str, Any] | None = None) -> CallError:  # fmt: skip
        return cls(Failure(message, kind, retryable, details))


class WorkflowNotFound(DuraluaError):
    """No workflow run with that id (or PID) exists."""


class EngineError(DuraluaError):
    """The engine cannot do what was asked (database locked by another process, ...)."""
