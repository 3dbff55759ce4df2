"""The one Lua <-> Python boundary for values that cross a process/workflow/activity boundary.

Rules (spec lua-modules.md §0.3, design §4):

* sequential 1-based tables -> ``list``; string-keyed tables -> ``dict``; an empty table ->
  ``[]`` unless it was created from a JSON object (by :func:`to_lua` or ``json.decode``), then
  ``{}``. Those tables are remembered in a weak-keyed Lua set, not marked with a metatable, so
  user metatables keep working.
* integers stay ``int``, floats stay ``float``; NaN and infinities are an error.
* Lua strings -> ``str``. A Lua string that is not valid UTF-8 ("binary") is an error: JSON
  cannot carry it; base64-encode it first (``base64.encode``).
* error objects -> :class:`~duralua.errors.Failure`; other userdata-looking objects (Time,
  Duration, Channel, Payload...) -> ``None`` (dropped from objects, ``null`` in arrays).
* sparse or mixed tables, keys that are neither strings nor array indexes, functions,
  coroutines, cycles and nesting deeper than :data:`duralua.codec.MAX_DEPTH` raise
  :class:`~duralua.errors.EncodeError` naming the path (``value.items[3]``).

Per Lua state the module keeps a :class:`LuaState` (core Lua helpers from
``modules/_core.lua``, the error class, caches of module classes). It is anchored inside the
Lua state (registry) and found again from any Lua value, so ``to_python`` needs no runtime
argument; it dies with the Lua state.
"""

from __future__ import annotations

import gc
import math
import re
import weakref
from collections.abc import Callable
from importlib import resources
from typing import Any

import lupa.lua54 as lupa54

from ..codec import MAX_DEPTH, JSONValue
from ..errors import INTERNAL, EncodeError, Failure
from . import chunks

_CORE_SRC = resources.files("duralua.lua").joinpath("modules", "_core.lua").read_text(encoding="utf-8")

_INT_MIN = -(2**63)
_INT_MAX = 2**63 - 1
_INF = math.inf

BINARY_STRING = "binary string (not valid UTF-8): JSON cannot carry it; base64-encode it (base64.encode)"


class LuaState:
    """Per-runtime helpers and caches. Get it with :func:`state_of`."""

    __slots__ = (
        "__weakref__", "builder", "cache", "core", "error_fields", "lua", "mark_object", "new_error",
        "objset", "udclass",
    )  # fmt: skip

    def __init__(self, lua: Any) -> None:
        self.lua = lua
        self.core: Any = chunks.run(lua, _CORE_SRC, "=duralua.core", self)
        self.objset: Any = self.core.OBJ
        self.mark_object: Any = self.core.mark_object
        self.error_fields: Any = self.core.error_fields
        self.new_error: Any = self.core.new_error
        self.udclass: Any = self.core.udclass
        self.cache: dict[str, Any] = {}
        self.builder = _Builder(self)

    def cached(self, key: str, factory: Callable[[], Any]) -> Any:
        """Per-runtime memo (module classes and Lua chunks are built once per Lua state)."""
        try:
            return self.cache[key]
        except KeyError:
            value = self.cache[key] = factory()
            return value

    def execute(self, source: str, *args: Any, name: str) -> Any:
        return chunks.run(self.lua, source, name, *args)


_STATES: dict[int, weakref.ref[LuaState]] = {}


def state_of(lua: Any) -> LuaState:
    """The :class:`LuaState` of a ``lupa.lua54.LuaRuntime`` (created on first use)."""
    key = id(lua)
    ref = _STATES.get(key)
    if ref is not None:
        st = ref()
        if st is not None and st.lua is lua:
            return st
    st = LuaState(lua)

    def _gone(r: weakref.ref[LuaState], key: int = key) -> None:
        if _STATES.get(key) is r:
            del _STATES[key]

    _STATES[key] = weakref.ref(st, _gone)
    return st


def runtime_of(value: Any) -> Any:
    """The LuaRuntime a lupa proxy object belongs to (lupa does not expose it directly)."""
    for ref in gc.get_referents(value):
        if isinstance(ref, lupa54.LuaRuntime):
            return ref
    raise TypeError(f"{type(value).__name__} is not a Lua object")


def state_for_value(value: Any) -> LuaState:
    return state_of(runtime_of(value))


def _lua_classes() -> tuple[type, ...]:
    lua = lupa54.LuaRuntime(register_eval=False, register_builtins=False)
    return type(lua.table()), type(lua.eval("function() end"))


_TABLE, _ = _lua_classes()
LUA_TABLE: type = _TABLE  # the class of lupa table proxies


def is_lua_table(value: Any) -> bool:
    return type(value) is _TABLE


# ---------------------------------------------------------------------------------------------
# Lua -> Python
# ---------------------------------------------------------------------------------------------


class _Bad(Exception):
    """Internal: a value cannot be encoded. ``keys`` is the path, innermost key first."""

    def __init__(self, reason: str, keys: list[Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.keys: list[Any] = keys if keys is not None else []


class _Deep(_Bad):
    pass


_DROP = object()  # a userdata-looking value: dropped from objects, null in arrays


def _join(path: str, keys: list[Any]) -> str:
    out = path
    for k in reversed(keys):
        out += f"[{k}]" if isinstance(k, int) else f".{k}"
    return out


def _describe(value: Any) -> str:
    kind = lupa54.lua_type(value)
    if type(value).__name__ == "_LuaCoroutineFunction":
        return "a coroutine cannot be encoded"
    if kind == "function" or (kind is None and callable(value)):
        return "a function cannot be encoded"
    if kind == "thread":
        return "a coroutine cannot be encoded"
    if kind == "userdata":
        return "a userdata value cannot be encoded"
    return f"a {type(value).__name__} cannot be encoded"


def _bad_float(x: float) -> str:
    return "NaN cannot be encoded" if x != x else "infinity cannot be encoded"


class _Walker:
    """Converts one Lua value. ``slow`` iterates keys in sorted order and reads values one by
    one, so it can name the exact key of a binary string and reports errors deterministically."""

    __slots__ = ("slow", "st", "udclass")

    def __init__(self, slow: bool) -> None:
        self.slow = slow
        self.st: LuaState | None = None
        self.udclass: Any = None

    def state(self, v: Any) -> LuaState:
        if self.st is None:
            self.st = state_for_value(v)
            self.udclass = self.st.udclass
        return self.st

    def value(self, x: Any, depth: int) -> Any:
        tx = type(x)
        if tx is str or tx is int or tx is bool or x is None:
            return x
        if tx is float:
            if x != x or x == _INF or x == -_INF:
                raise _Bad(_bad_float(x))
            return x
        if tx is _TABLE:
            return self.table(x, depth)
        if isinstance(x, Failure):
            return x
        if tx is list or tx is tuple:
            return [self.item(y, depth + 1, i) for i, y in enumerate(x, 1)]
        if tx is dict:
            out = {}
            for k, y in x.items():
                if type(k) is not str:
                    raise _Bad(f"object key {k!r} is not a string")
                out[k] = self.item(y, depth + 1, k)
            return out
        raise _Bad(_describe(x))

    def item(self, x: Any, depth: int, key: Any) -> Any:
        try:
            y = self.value(x, depth)
        except _Bad as bad:
            bad.keys.append(key)
            raise
        return None if y is _DROP else y

    def entries(self, v: Any) -> list[tuple[Any, Any]]:
        if not self.slow:
            return list(v.items())
        core = self.state(v).core
        keys, n = core.sorted_keys(v)
        out = []
        for i in range(1, n + 1):
            try:
                k = keys[i]
            except UnicodeDecodeError:
                raise _Bad("a table key is a " + BINARY_STRING) from None
            try:
                x = v[k]
            except UnicodeDecodeError:
                raise _Bad(BINARY_STRING, [k]) from None
            out.append((k, x))
        return out

    def table(self, v: Any, depth: int) -> Any:
        udclass = self.udclass
        if udclass is None:
            self.state(v)
            udclass = self.udclass
        ud = udclass(v)
        if ud is not None:
            return self.userdata(v, ud)
        if depth > MAX_DEPTH:
            raise _Deep(f"nesting deeper than {MAX_DEPTH} levels")
        items = self.entries(v)
        if not items:
            return {} if self.state(v).objset[v] else []
        k0 = items[0][0]
        value = self.value
        if type(k0) is str:
            out: dict[str, Any] = {}
            for k, x in items:
                if type(k) is not str:
                    raise _Bad(self.key_problem(v, items, k))
                try:
                    y = value(x, depth + 1)
                except _Bad as bad:
                    bad.keys.append(k)
                    raise
                if y is not _DROP:
                    out[k] = y
            return out
        if type(k0) is int:
            n = len(items)
            arr: list[Any] = [None] * n
            for k, x in items:
                if type(k) is not int or k < 1 or k > n:
                    raise _Bad(self.key_problem(v, items, k))
                try:
                    y = value(x, depth + 1)
                except _Bad as bad:
                    bad.keys.append(k)
                    raise
                arr[k - 1] = None if y is _DROP else y
            return arr
        raise _Bad(self.key_problem(v, items, k0))

    def key_problem(self, v: Any, items: list[tuple[Any, Any]], key: Any) -> str:
        keys = [k for k, _ in items]
        ints = [k for k in keys if type(k) is int]
        strs = [k for k in keys if type(k) is str]
        if len(ints) + len(strs) < len(keys):
            odd = next(k for k in keys if type(k) is not int and type(k) is not str)
            desc = self.state(v).core.key_desc(odd)
            return f"table key of type {desc} cannot be encoded (keys must be strings or array indexes 1..n)"
        if ints and strs:
            return (
                f"mixed table: array indexes and string keys (e.g. [{min(ints)}] and .{min(strs)}) "
                "cannot be encoded together"
            )
        if any(k < 1 for k in ints):
            return f"sparse array: index {min(ints)} is not a valid array index (arrays use keys 1..n)"
        present = set(ints)
        missing = next(i for i in range(1, len(ints) + 2) if i not in present)
        return f"sparse array: index {missing} is missing (nil) but index {max(ints)} is set"

    def userdata(self, v: Any, ud: Any) -> Any:
        if ud == "error":
            failure = failure_of(v)
            if failure is not None:
                return failure
        return _DROP


def _cycle_message(root: Any, keys: list[Any], path: str) -> tuple[str, str]:
    """Diagnose a too-deep value: find a table that repeats along the path."""
    chain = [root]
    cur = root
    try:
        for k in reversed(keys):
            cur = cur[k]
            if type(cur) is not _TABLE:
                break
            chain.append(cur)
    except Exception:
        chain = chain[:1]
    st = state_for_value(root)
    first, again = st.core.find_repeat(st.lua.table_from(chain), len(chain))
    ordered = list(reversed(keys))
    if first is not None:
        at = _join(path, list(reversed(ordered[: again - 1])))
        back = _join(path, list(reversed(ordered[: first - 1])))
        return f"cycle: this table is the same table as {back}", at
    return f"nesting deeper than {MAX_DEPTH} levels", _join(path, keys)


def to_python(value: Any, path: str = "value") -> JSONValue:
    """Convert a Lua value (as lupa hands it to Python) into a plain JSON value.

    Raises :class:`EncodeError` naming the offending path. Error objects become
    :class:`Failure`; other userdata-looking objects become ``None``.
    """
    tv = type(value)
    if tv is str or tv is int or tv is bool or value is None:
        return value
    try:
        try:
            result = _Walker(False).value(value, 0)
        except (_Bad, UnicodeDecodeError):
            # Re-run slowly: sorted keys, exact location of binary strings, deterministic message.
            result = _Walker(True).value(value, 0)
    except _Deep as bad:
        reason, where = _cycle_message(value, bad.keys, path)
        raise EncodeError(reason, where) from None
    except _Bad as bad:
        raise EncodeError(bad.reason, _join(path, bad.keys)) from None
    except UnicodeDecodeError:
        raise EncodeError(BINARY_STRING, path) from None
    return None if result is _DROP else result


def to_python_args(values: Any, n: int, path: str = "args") -> list[JSONValue]:
    """Convert ``values[1..n]`` of a Lua table (e.g. ``table.pack(...)``) to a list."""
    return [to_python(values[i], f"{path}[{i}]") for i in range(1, n + 1)]


# ---------------------------------------------------------------------------------------------
# Python -> Lua
# ---------------------------------------------------------------------------------------------


def to_lua(lua: Any, value: Any) -> Any:
    """Convert a plain JSON value (plus :class:`Failure` and ``bytes``) into a Lua value.

    dicts become tables remembered as JSON objects (an empty one converts back to ``{}``),
    lists become arrays (``None`` items leave holes, as JSON ``null`` does in Wippy),
    :class:`Failure` becomes an error object, ``bytes`` a (binary) Lua string, ints outside
    the Lua integer range floats. Lone surrogates (``"\\ud800"`` escapes in JSON) cannot be
    UTF-8 encoded: they become U+FFFD.
    """
    tv = type(value)
    if value is None or tv is bool or tv is float:
        return value
    if tv is int:
        return value if _INT_MIN <= value <= _INT_MAX else float(value)
    try:
        if tv is str:
            value.encode("utf-8")
            return value
        return state_of(lua).builder.convert(value, 0)
    except UnicodeEncodeError:
        return state_of(lua).builder.convert(_scrub(value), 0)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub(v) for v in value]
    return value


class _Builder:
    __slots__ = ("mark", "st", "table_from")

    def __init__(self, st: LuaState) -> None:
        self.st = st
        self.table_from = st.lua.table_from
        self.mark = st.objset

    def convert(self, v: Any, depth: int) -> Any:
        tv = type(v)
        if v is None or tv is str or tv is bool or tv is float:
            return v
        if tv is int:
            return v if _INT_MIN <= v <= _INT_MAX else float(v)
        if depth > MAX_DEPTH:
            raise EncodeError(f"nesting deeper than {MAX_DEPTH} levels")
        if tv is dict:
            conv = self.convert
            t = self.table_from({str(k): conv(x, depth + 1) for k, x in v.items()})
            self.mark[t] = True
            return t
        if tv is list or tv is tuple:
            conv = self.convert
            return self.table_from([conv(x, depth + 1) for x in v])
        if isinstance(v, Failure):
            return make_error_object(self.st, v)
        if isinstance(v, (bytes, bytearray, memoryview)):
            return bytes(v)
        if isinstance(v, int):  # bool handled above; int subclasses (IntEnum)
            return self.convert(int(v), depth)
        if isinstance(v, float):
            return float(v)
        if isinstance(v, str):
            return str(v)
        if isinstance(v, dict):
            return self.convert(dict(v), depth)
        if isinstance(v, (list, tuple)):
            return self.convert(list(v), depth)
        raise EncodeError(f"a {type(v).__name__} cannot be passed to Lua")


# ---------------------------------------------------------------------------------------------
# error objects (the Lua class lives in modules/_core.lua; modules/errors.py re-exports these)
# ---------------------------------------------------------------------------------------------


def make_error_object(st: LuaState, failure: Failure) -> Any:
    details = to_lua(st.lua, failure.details) if failure.details is not None else None
    return st.new_error(failure.kind, failure.message, failure.retryable, details, failure.stack or None)


def failure_of(value: Any) -> Failure | None:
    """The :class:`Failure` held by a Lua error object, or ``None`` for any other value."""
    if isinstance(value, Failure):
        return value
    if type(value) is not _TABLE:
        return None
    st = state_for_value(value)
    try:
        fields = st.error_fields(value)
    except UnicodeDecodeError:
        return Failure("(error message is not valid UTF-8)", INTERNAL)
    if not fields:
        return None
    _, kind, message, retryable, details, stack = fields
    return Failure(
        message=str(message),
        kind=str(kind),
        retryable=retryable if isinstance(retryable, bool) else None,
        details=_details_of(details),
        stack=str(stack or ""),
    )


def _details_of(details: Any) -> dict[str, Any] | None:
    if details is None:
        return None
    value = to_python(details, "error.details")
    if isinstance(value, dict):
        return value
    if value == []:
        return {}
    return {"value": value}
