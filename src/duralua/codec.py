"""The one codec: values that cross a boundary are JSON, written canonically.

Everything that leaves a Lua state (workflow input/output, activity args/results, signal
payloads, child results, history events) is converted to plain Python JSON values by
``duralua.lua.convert`` and then serialised here. Keys are sorted and separators fixed so
a history is byte-stable across runs and machines.

Error objects travel as ``{"__error": {...}}`` (see :class:`duralua.errors.Failure`).
"""

from __future__ import annotations

import json
import math
from typing import Any

from .errors import EncodeError, Failure

JSONValue = Any  # None | bool | int | float | str | list[JSONValue] | dict[str, JSONValue]

DEFAULT_PAYLOAD_LIMIT = 2 * 1024 * 1024
MAX_DEPTH = 128
ERROR_TAG = "__error"


def _check(value: Any, path: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise EncodeError(f"nesting deeper than {MAX_DEPTH}", path)
    if value is None or isinstance(value, (bool, int, str)):
        return
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise EncodeError("NaN and infinity cannot be encoded", path)
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check(item, f"{path}[{i + 1}]", depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise EncodeError(f"object key {key!r} is not a string", path)
            _check(item, f"{path}.{key}", depth + 1)
        return
    if isinstance(value, Failure):
        return
    raise EncodeError(f"a {type(value).__name__} cannot be encoded", path)


def _default(value: Any) -> Any:
    if isinstance(value, Failure):
        return {ERROR_TAG: value.to_json()}
    raise TypeError(type(value).__name__)


def encode(value: JSONValue, *, path: str = "value", limit: int | None = DEFAULT_PAYLOAD_LIMIT) -> bytes:
    """Serialise ``value`` canonically; raise :class:`EncodeError` naming the bad path."""
    try:
        text = json.dumps(
            value,
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
            default=_default,
        )
    except (TypeError, ValueError, RecursionError):
        _check(value, path, 0)
        raise EncodeError("value cannot be encoded", path) from None
    data = text.encode("utf-8")
    if limit is not None and len(data) > limit:
        raise EncodeError(
            f"payload of {len(data)} bytes is larger than the {limit}-byte limit "
            "(store large data elsewhere and pass a reference)",
            path,
        )
    return data


def _hook(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and ERROR_TAG in obj and isinstance(obj[ERROR_TAG], dict):
        return Failure.from_json(obj[ERROR_TAG])
    return obj


def decode(data: bytes | str) -> JSONValue:
    """Parse canonical JSON back into Python values (error objects become :class:`Failure`)."""
    if isinstance(data, (bytes, bytearray)):
        data = data.decode("utf-8")
    return json.loads(data, object_hook=_hook)


def dumps(value: JSONValue) -> str:
    """Canonical JSON text without a size limit (for history rows and CLI output)."""
    return encode(value, limit=None).decode("utf-8")


def to_plain(value: JSONValue) -> JSONValue:
    """Replace :class:`Failure` objects by their JSON form (for printing)."""
    if isinstance(value, Failure):
        return {"error": value.to_json()}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    return value
