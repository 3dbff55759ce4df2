"""Checks of identifiers that come from outside (CLI, Python API, other processes).

Both engines call these before accepting a start or a signal, so they refuse the same inputs
with the same message. Topics starting with ``@`` are the engine's own events (``@future/N``,
``@timer/N``, ``@inbox``...): an external sender must never be able to forge one. A workflow
id shaped like a PID would be parsed as a PID by every signal path and reach another run.
"""

from __future__ import annotations

from ..errors import INVALID, Failure

MAX_ID_LENGTH = 1000
MAX_TOPIC_LENGTH = 1000


def _control_char(text: str) -> str | None:
    for ch in text:
        if ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0:
            return f"U+{ord(ch):04X}"
    return None


def workflow_id_problem(value: object) -> str | None:
    """Why ``value`` cannot be a workflow id, or ``None`` if it can."""
    if not isinstance(value, str):
        return f"workflow id must be a string, got {type(value).__name__}"
    if not value.strip():
        return "workflow id must not be empty or blank"
    if len(value) > MAX_ID_LENGTH:
        return f"workflow id is {len(value)} characters long (the limit is {MAX_ID_LENGTH})"
    bad = _control_char(value)
    if bad is not None:
        return f"workflow id contains the control character {bad}"
    if value.startswith("{") and value.endswith("}") and "|" in value:
        return f"workflow id {value!r} looks like a PID ({{node@host|id}}); use a plain id such as 'order-42'"
    return None


def topic_problem(value: object) -> str | None:
    """Why ``value`` cannot be the topic of an external signal, or ``None`` if it can."""
    if not isinstance(value, str):
        return f"signal topic must be a string, got {type(value).__name__}"
    if not value:
        return "signal topic must not be empty"
    if value.startswith("@"):
        return f"signal topic {value!r} is reserved (topics starting with '@' are the engine's own events)"
    if len(value) > MAX_TOPIC_LENGTH:
        return f"signal topic is {len(value)} characters long (the limit is {MAX_TOPIC_LENGTH})"
    bad = _control_char(value)
    if bad is not None:
        return f"signal topic contains the control character {bad}"
    return None


def check_workflow_id(value: object) -> Failure | None:
    """An ``Invalid`` failure for a bad workflow id, else ``None``."""
    problem = workflow_id_problem(value)
    return None if problem is None else Failure(problem, INVALID, False)


def check_topic(value: object) -> Failure | None:
    """An ``Invalid`` failure for a bad external signal topic, else ``None``."""
    problem = topic_problem(value)
    return None if problem is None else Failure(problem, INVALID, False)
