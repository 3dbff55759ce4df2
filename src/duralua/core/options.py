"""Activity and workflow option tables (spec activities.md §3, workflows.md §3.1, §3.3).

Keys come in canonical (``activity.X``/``workflow.X``) and legacy (``temporal.activity.X``)
forms; durations are Go strings or numbers of milliseconds. Parsed options are plain dicts
of normalised keys so engines can store them in history and map them to their own calls.
"""

from __future__ import annotations

from typing import Any

from ..codec import check_value
from ..durations import DurationError, parse_option
from ..errors import EncodeError
from .cron import CronError
from .cron import parse as parse_cron

DEFAULT_START_TO_CLOSE_NS = 10 * 60 * 1_000_000_000

_ACTIVITY_DURATIONS = (
    "start_to_close_timeout",
    "schedule_to_close_timeout",
    "schedule_to_start_timeout",
    "heartbeat_timeout",
)
_ACTIVITY_OTHER = (
    "retry_policy",
    "id",
    "task_queue",
    "wait_for_cancellation",
    "disable_eager_execution",
    "versioning_intent",
    "summary",
    "priority",
)


class OptionError(ValueError):
    """An option has a wrong type or value; the message names the key."""


def _strip(key: str, kind: str) -> str | None:
    for prefix in (f"{kind}.", f"temporal.{kind}."):
        if key.startswith(prefix):
            return key[len(prefix) :]
    return None


def parse_retry_policy(value: Any, where: str = "retry_policy") -> dict[str, Any]:
    if not isinstance(value, dict):
        raise OptionError(f"{where} must be a table")
    aliases = {
        "initialInterval": "initial_interval",
        "backoffCoefficient": "backoff_coefficient",
        "maximumInterval": "maximum_interval",
        "maximumAttempts": "maximum_attempts",
        "nonRetryableErrorTypes": "non_retryable_error_types",
    }
    out: dict[str, Any] = {}
    for raw_key, raw in value.items():
        key = aliases.get(raw_key, raw_key)
        try:
            if key in ("initial_interval", "maximum_interval"):
                out[key + "_ns"] = parse_option(raw)
            elif key == "backoff_coefficient":
                if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw < 1:
                    raise OptionError(f"{where}.backoff_coefficient must be a number >= 1")
                out[key] = float(raw)
            elif key == "maximum_attempts":
                if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw < 0:
                    raise OptionError(f"{where}.maximum_attempts must be an integer >= 0")
                out[key] = int(raw)
            elif key == "non_retryable_error_types":
                items = [raw] if isinstance(raw, str) else raw
                if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
                    raise OptionError(f"{where}.non_retryable_error_types must be a string or a list of strings")
                out[key] = list(items)
        except DurationError as exc:
            raise OptionError(f"{where}.{key}: {exc}") from None
    return out


def parse_activity_options(raw: dict[str, Any]) -> dict[str, Any]:
    """Normalise an activity options table; unknown keys are ignored (as in Wippy)."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = _strip(str(key), "activity")
        if name is None:
            continue
        if name in _ACTIVITY_DURATIONS:
            try:
                ns = parse_option(value)
            except DurationError as exc:
                raise OptionError(f"{name}: {exc}") from None
            if ns < 0:
                raise OptionError(f"{name} must not be negative")
            out[name + "_ns"] = ns
        elif name == "retry_policy":
            out["retry_policy"] = parse_retry_policy(value, "retry_policy")
        elif name == "task_queue":
            if not isinstance(value, str) or not value:
                raise OptionError("task_queue must be a non-empty string")
            out[name] = value
        elif name in ("id", "summary", "versioning_intent"):
            if not isinstance(value, str):
                raise OptionError(f"{name} must be a string")
            out[name] = value
        elif name in ("wait_for_cancellation", "disable_eager_execution"):
            if not isinstance(value, bool):
                raise OptionError(f"{name} must be a boolean")
            out[name] = value
        elif name in _ACTIVITY_OTHER:
            out[name] = value
    if not any(k in out for k in ("start_to_close_timeout_ns", "schedule_to_close_timeout_ns")):
        out["start_to_close_timeout_ns"] = DEFAULT_START_TO_CLOSE_NS
    return out


def parse_workflow_options(raw: dict[str, Any]) -> dict[str, Any]:
    """Normalise start options of a workflow (top-level or child)."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = _strip(str(key), "workflow")
        if name is None:
            continue
        if name == "typed_search_attributes":
            name = "search_attributes"
        if name in ("static_summary", "static_details"):
            name = name[len("static_") :]
        if name in ("execution_timeout", "run_timeout", "task_timeout", "start_delay"):
            if name == "start_delay" and not isinstance(value, str):
                raise OptionError('workflow.start_delay must be a duration string (e.g. "5s")')
            try:
                ns = parse_option(value)
            except DurationError as exc:
                raise OptionError(f"workflow.{name}: {exc}") from None
            if ns < 0:
                raise OptionError(f"workflow.{name} must not be negative")
            if ns:
                # Zero means "no limit" to Temporal: the same unset value on both engines.
                out[name + "_ns"] = ns
        elif name in ("id", "task_queue", "cron_schedule", "summary", "details", "namespace"):
            if not isinstance(value, str):
                raise OptionError(f"workflow.{name} must be a string")
            if name in ("id", "task_queue") and not value:
                raise OptionError(f"workflow.{name} cannot be empty")
            if name == "cron_schedule":
                if not value.strip():
                    continue  # an empty schedule is no schedule (as Temporal reads it)
                try:
                    parse_cron(value)
                except CronError as exc:
                    raise OptionError(f"workflow.cron_schedule: invalid cron schedule {value!r}: {exc}") from None
            out[name] = value
        elif name in ("id_conflict_policy", "id_reuse_policy", "parent_close_policy"):
            out[name] = _enum(name, value)
        elif name == "retry_policy":
            out[name] = parse_retry_policy(value, "workflow.retry_policy")
        elif name in ("memo", "search_attributes"):
            if not isinstance(value, dict):
                raise OptionError(f"workflow.{name} must be a table")
            try:
                check_value(value, f"workflow.{name}")
            except EncodeError as exc:
                raise OptionError(str(exc)) from None
            out[name] = value
        elif name in ("execution_error_when_already_started", "enable_eager_start", "wait_for_cancellation"):
            if not isinstance(value, bool):
                raise OptionError(f"workflow.{name} must be a boolean")
            out[name] = value
        else:
            out[name] = value
    _check_combinations(out)
    return out


def _check_combinations(out: dict[str, Any]) -> None:
    # The Temporal server refuses these pairs; both engines refuse them before starting.
    if out.get("cron_schedule") and out.get("start_delay_ns"):
        raise OptionError("workflow.cron_schedule and workflow.start_delay cannot be used together")
    if out.get("id_reuse_policy") == "terminate_if_running" and "id_conflict_policy" in out:
        raise OptionError(
            "workflow.id_reuse_policy terminate_if_running cannot be used together with workflow.id_conflict_policy "
            "(use id_conflict_policy = terminate_existing instead)"
        )


def check_child_options(opts: dict[str, Any]) -> str | None:
    """Why these parsed options cannot start a child workflow, or None.

    Temporal has no slot for them on a child start (spec workflows.md §3.1): refusing them is
    better than a child that silently starts at once or fails differently than asked."""
    if opts.get("start_delay_ns"):
        return "workflow.start_delay applies only to top-level starts, not to child workflows"
    if opts.get("id_conflict_policy") not in (None, "fail"):
        return (
            f"workflow.id_conflict_policy {opts['id_conflict_policy']} is not available for child workflows "
            "(a child whose id is running always fails to start)"
        )
    return None


_ENUMS = {
    "id_conflict_policy": ("use_existing", "fail", "terminate_existing"),
    "id_reuse_policy": (
        "allow_duplicate",
        "allow_duplicate_failed_only",
        "reject_duplicate",
        "terminate_if_running",
    ),
    "parent_close_policy": ("terminate", "abandon", "request_cancel"),
}
_PREFIXES = {
    "id_conflict_policy": "workflow_id_conflict_policy_",
    "id_reuse_policy": "workflow_id_reuse_policy_",
    "parent_close_policy": "parent_close_policy_",
}


def _enum(name: str, value: Any) -> str:
    allowed = _ENUMS[name]
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= len(allowed):
        return allowed[value - 1]
    if isinstance(value, str):
        text = value.strip().lower().replace("-", "_")
        prefix = _PREFIXES[name]
        if text.startswith(prefix):
            text = text[len(prefix) :]
        if text in allowed:
            return text
    raise OptionError(f"workflow.{name} must be one of {', '.join(allowed)} (got {value!r})")


def backoff_ns(initial: int, coefficient: float, maximum: int, attempt: int) -> int:
    """Delay before retry number ``attempt`` + 1: ``initial * coefficient^(attempt-1)``, capped.

    The cap is applied before the power can overflow: after a day of failures the exponent is
    in the thousands, and a float power or an ``int(inf)`` raises OverflowError."""
    if initial <= 0:
        return 0
    if coefficient <= 1.0:
        return min(initial, maximum) if maximum > 0 else initial
    # coefficient ** n exceeds maximum / initial once n > log(maximum / initial) / log(coefficient).
    limit = maximum / initial if maximum > 0 else float(1 << 62) / initial
    n = max(attempt - 1, 0)
    factor = 1.0
    for _ in range(min(n, 4096)):
        factor *= coefficient
        if factor >= limit:
            return maximum if maximum > 0 else 1 << 62
    return min(int(initial * factor), maximum) if maximum > 0 else int(initial * factor)
