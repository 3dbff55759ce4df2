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

import orjson

from .errors import EncodeError, Failure

JSONValue = Any  # None | bool | int | float | str | list[JSONValue] | dict[str, JSONValue]

DEFAULT_PAYLOAD_LIMIT = 2 * 1024 * 1024
MAX_DEPTH = 128
ERROR_TAG = "__error"
_ERROR_TAG_BYTES = ERROR_TAG.encode()
# Lua integers are 64-bit: a larger JSON integer cannot reach Lua code unchanged.
INT_MIN = -(2**63)
INT_MAX = 2**63 - 1


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


def _short_int(value: int) -> str:
    sign, digits = ("-" if value < 0 else ""), str(abs(value))
    return f"{sign}{digits}" if len(digits) <= 24 else f"{sign}{digits[:20]}... ({len(digits)} digits)"


def _surrogate(exc: UnicodeEncodeError) -> str:
    return f"the lone surrogate U+{ord(exc.object[exc.start]):04X}"


def check_value(value: JSONValue, path: str = "value") -> None:
    """Raise :class:`EncodeError` naming the path of the first part of ``value`` that cannot
    cross into Lua unchanged: nesting deeper than ``MAX_DEPTH``, an integer outside the 64-bit
    range, NaN/infinity, a string that is not valid Unicode, a non-string key or a non-JSON type.

    Iterative, so a value nested thousands deep gets this error instead of a RecursionError.
    """
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise EncodeError(
                f"nesting deeper than {MAX_DEPTH} levels", where if len(where) < 60 else where[:40] + "..."
            )
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise EncodeError(f"the string holds {_surrogate(exc)}, which is not valid Unicode", where) from None
            continue
        if item is None or isinstance(item, (bool, Failure)):
            continue
        if isinstance(item, int):
            if not INT_MIN <= item <= INT_MAX:
                raise EncodeError(
                    f"integer {_short_int(item)} is outside the 64-bit range of Lua integers "
                    f"({INT_MIN} .. {INT_MAX}); pass it as a string",
                    where,
                )
            continue
        if isinstance(item, float):
            if math.isnan(item) or math.isinf(item):
                raise EncodeError("NaN and infinity cannot be encoded (a number too large for a double?)", where)
            continue
        if isinstance(item, list):
            stack.extend((v, f"{where}[{i + 1}]", depth + 1) for i, v in reversed(list(enumerate(item))))
            continue
        if isinstance(item, dict):
            for key in item:
                if not isinstance(key, str):
                    raise EncodeError(f"object key {key!r} is not a string", where)
            stack.extend((v, f"{where}.{k}", depth + 1) for k, v in reversed(list(item.items())))
            continue
        raise EncodeError(f"a {type(item).__name__} cannot be encoded", where)


def _default(value: Any) -> Any:
    if isinstance(value, Failure):
        return {ERROR_TAG: value.to_json()}
    raise TypeError(type(value).__name__)


# One encoder and one decoder for every call: json.dumps/json.loads with options build a new
# one per call, which was a third of the cost of encoding a small payload (several per step).
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False,
                            default=_default)  # fmt: skip

# orjson writes the same canonical text ten times faster, except: floats below 1e-4 (Python
# writes 1e-05, orjson 0.00001 or 1e-5), integers beyond 64 bits, lone surrogates and non-string
# keys (orjson refuses the last three), NaN or infinity (written as null) and UUIDs or enums
# (written, where json refuses them). So it writes only for dumps, whose values were checked
# where they came in (by encode, through json), and its output is used only when it cannot be
# one of those: the bytes of a history never depend on which encoder wrote them (tests compare
# both on random values).
_FAST_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
_fast_dumps = orjson.dumps


def _canonical_bytes(value: JSONValue) -> bytes | None:
    """The canonical UTF-8 text of a checked value from orjson, or None where only json
    writes it right."""
    try:
        data = _fast_dumps(value, default=_default, option=_FAST_OPTIONS)
    except (TypeError, orjson.JSONEncodeError):
        return None
    if b"e-" in data or b"0.0000" in data:  # maybe a small float (or only text that reads so)
        return None
    return data


def _canonical(value: JSONValue, path: str) -> str:
    try:
        return _ENCODER.encode(value)
    except (TypeError, ValueError, RecursionError):
        _check(value, path, 0)
        raise EncodeError("value cannot be encoded", path) from None


def _utf8(text: str, path: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate, e.g. from JSON "\ud800"
        raise EncodeError(f"a string holds {_surrogate(exc)}, which is not valid Unicode", path) from None


def encode(value: JSONValue, *, path: str = "value", limit: int | None = DEFAULT_PAYLOAD_LIMIT) -> bytes:
    """Serialise ``value`` canonically; raise :class:`EncodeError` naming the bad path."""
    data = _utf8(_canonical(value, path), path)
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


_DECODER = json.JSONDecoder(object_hook=_hook)

# orjson reads integers beyond 64 bits as floats (json keeps them exact, so that check_value can
# name them): a text with a run of 20 digits, or 19 after a minus sign, is read by json.
_DIGITS = bytes(ord("9") if 48 <= i <= 57 else (i if i == 45 else 32) for i in range(256))
_RUN, _NEGATIVE_RUN = b"9" * 20, b"-" + b"9" * 19
# Below this many characters json is as fast as the checks that let orjson read a text.
FAST_MIN = 64


def fast_loads(text: str | bytes | bytearray, error_mark: Any) -> Any:
    """orjson's reading of ``text``, or the sentinel ``NotImplemented`` where json must read it:
    an ``error_mark`` in it (an object hook is needed; of the text's type), a possible integer
    beyond 64 bits, or anything orjson refuses (NaN, lone surrogates, a BOM, deep nesting)."""
    if error_mark in text:
        return NotImplemented
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    digits = raw.translate(_DIGITS)
    if _RUN in digits or _NEGATIVE_RUN in digits:
        return NotImplemented
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return NotImplemented


def decode(data: bytes | str) -> JSONValue:
    """Parse canonical JSON back into Python values (error objects become :class:`Failure`)."""
    if len(data) >= FAST_MIN:
        value = fast_loads(data, ERROR_TAG if type(data) is str else _ERROR_TAG_BYTES)
        if value is not NotImplemented:
            return value
    if isinstance(data, (bytes, bytearray)):
        data = data.decode("utf-8")
    if type(data) is not str or data.startswith("\ufeff"):
        return json.loads(data, object_hook=_hook)  # its own errors for these (a BOM, not text)
    return _DECODER.decode(data)


def dumps(value: JSONValue) -> str:
    """Canonical JSON text without a size limit, for values already checked where they came
    in (by :func:`encode` or :func:`check_value`: a NaN or infinity that was not would be
    written as null): history rows, stored options, CLI output."""
    data = _canonical_bytes(value)
    if data is not None:
        return data.decode("utf-8")
    text = _canonical(value, "value")
    if not text.isascii():  # ASCII text holds no lone surrogate
        _utf8(text, "value")
    return text


def to_plain(value: JSONValue) -> JSONValue:
    """Replace :class:`Failure` objects by their JSON form (for printing)."""
    if isinstance(value, Failure):
        return {"error": value.to_json()}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    return value
