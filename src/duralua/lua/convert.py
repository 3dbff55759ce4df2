"""The one Lua <-> Python boundary for values that cross a process/workflow/activity boundary.

Rules (spec lua-modules.md §0.3, design §4):

* sequential 1-based tables -> ``list``; string-keyed tables -> ``dict``; an empty table ->
  ``[]`` unless it was created from a JSON object (by :func:`to_lua` or ``json.decode``), then
  ``{}``. Those tables are remembered in a weak-keyed Lua set, not marked with a metatable, so
  user metatables keep working.
* integers stay ``int``, floats stay ``float``; NaN and infinities are an error.
* Lua strings -> ``str``. A Lua string that is not valid UTF-8 ("binary") is an error, kind
  ``Invalid`` wherever it would cross (results, errors, arguments, messages): JSON cannot carry
  it, so the message names the path and says to base64-encode it first (``base64.encode``).
* error objects -> :class:`~duralua.errors.Failure`; other userdata-looking objects (Time,
  Duration, Channel, Payload...) -> ``None`` (dropped from objects, ``null`` in arrays).
* sparse or mixed tables, keys that are neither strings nor array indexes, functions,
  coroutines, cycles and nesting deeper than :data:`duralua.codec.MAX_DEPTH` raise
  :class:`~duralua.errors.EncodeError` naming the path (``value.items[3]``).

The conversion itself is Lua (``C.export`` in ``modules/_core.lua``): it walks the value with
raw reads only, so no user code (metamethod) runs, it counts against the instruction budget of
the coroutine that calls it, and what reaches Python is one JSON string -- never a Lua object
Python could keep past the coroutine that made it, nor a string lupa cannot decode.

Per Lua state the module keeps a :class:`LuaState` (core Lua helpers from
``modules/_core.lua``, the error class, caches of module classes). It is anchored inside the
Lua state (registry) and found again from any Lua value, so ``to_python`` needs no runtime
argument; it dies with the Lua state.
"""

from __future__ import annotations

import gc
import json
import math
import re
import weakref
from collections.abc import Callable
from importlib import resources
from typing import Any

import lupa.lua54 as lupa54

from ..codec import FAST_MIN, MAX_DEPTH, JSONValue, dumps, fast_loads
from ..errors import INTERNAL, INVALID, EncodeError, Failure
from . import chunks
from .context import HostContext

_CORE_SRC = resources.files("duralua.lua").joinpath("modules", "_core.lua").read_text(encoding="utf-8")

_INT_MIN = -(2**63)
_INT_MAX = 2**63 - 1
_INF = math.inf

BINARY_STRING = "binary string (not valid UTF-8): JSON cannot carry it; base64-encode it first (base64.encode)"


class LuaState:
    """Per-runtime helpers and caches. Get it with :func:`state_of`.

    Everything here is read from Lua once, when the state is made (on the runtime's main
    thread): a proxy fetched later from inside a coroutine would be tied to that coroutine and
    must not be kept (see ``lua/process.py``). ``cache`` must likewise only be filled from the
    main thread (module installers run when a :class:`~duralua.lua.process.LuaVM` is built).
    """

    __slots__ = (
        "__weakref__", "builder", "cache", "copy", "core", "export", "export_list", "host", "lua",
        "mark_object", "new_error", "objset", "pyfn", "pyfn_bytes", "raise_token", "udclass",
    )  # fmt: skip

    def __init__(self, lua: Any) -> None:
        self.lua = lua
        self.core: Any = chunks.run(lua, _CORE_SRC, "=duralua.core", self, MAX_DEPTH, BINARY_STRING)
        core = self.core
        self.objset: Any = core.OBJ
        self.mark_object: Any = core.mark_object
        self.new_error: Any = core.new_error
        self.udclass: Any = core.udclass
        self.export: Any = core.export
        self.export_list: Any = core.export_list
        self.copy: Any = core.copy
        self.pyfn: Any = core.pyfn
        self.pyfn_bytes: Any = core.pyfn_bytes
        self.raise_token: Any = core.RAISE
        self.cache: dict[str, Any] = {}
        # The HostContext of whoever runs in this state now (modules read the clock and the
        # randomness through it, so their tables can be built once and shared by every run).
        self.host: HostContext | None = None
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


def _lua_classes() -> tuple[type, type]:
    lua = lupa54.LuaRuntime(register_eval=False, register_builtins=False)
    table = type(lua.table())
    return table, table.__mro__[1]


_TABLE, _LUA_OBJECT = _lua_classes()
LUA_TABLE: type = _TABLE  # the class of lupa table proxies
LUA_OBJECT: type = _LUA_OBJECT  # the base class of every lupa proxy (tables, functions, coroutines)


def is_lua_table(value: Any) -> bool:
    return type(value) is _TABLE


# ---------------------------------------------------------------------------------------------
# Lua -> Python
# ---------------------------------------------------------------------------------------------

_ERROR_MARK = "\udfff"  # key of an exported error object (no Lua string can hold it)


def _object_hook(obj: dict[str, Any]) -> Any:
    fields = obj.get(_ERROR_MARK)
    if fields is None or len(obj) != 1:
        return obj
    kind, message, retryable, details, stack = fields
    return Failure(message=message, kind=kind, retryable=retryable, details=_details_of(details), stack=stack)


_DECODER = json.JSONDecoder(object_hook=_object_hook)


def loads_exported(text: str) -> JSONValue:
    """Decode the JSON text made by the Lua-side export (error objects become Failures)."""
    if len(text) >= FAST_MIN:
        value = fast_loads(text, "\\udfff")  # how the export writes the error mark
        if value is not NotImplemented:
            return value
    return _DECODER.decode(text)


def _lua_value(value: Any, path: str) -> JSONValue:
    """Export one Lua value through ``_core.lua`` (no user code runs; see ``C.export``)."""
    out = state_for_value(value).export(value, path)
    if type(out) is str:
        return loads_exported(out)
    _, reason, where = out
    raise EncodeError(str(reason), str(where))


def _describe(value: Any) -> str:
    return f"a {type(value).__name__} cannot be encoded"


def _bad_float(x: float) -> str:
    return "NaN cannot be encoded" if x != x else "infinity cannot be encoded"


def _py_value(x: Any, path: str, depth: int) -> Any:
    """A Python value that may hold Lua values (lists of arguments...)."""
    tx = type(x)
    if tx is str or tx is int or tx is bool or x is None:
        return x
    if tx is float:
        if x != x or x == _INF or x == -_INF:
            raise EncodeError(_bad_float(x), path)
        return x
    if isinstance(x, _LUA_OBJECT):
        return _lua_value(x, path)
    if isinstance(x, Failure):
        return x
    if depth > MAX_DEPTH:
        raise EncodeError(f"nesting deeper than {MAX_DEPTH} levels", path)
    if tx is list or tx is tuple:
        return [_py_value(y, f"{path}[{i}]", depth + 1) for i, y in enumerate(x, 1)]
    if tx is dict:
        out = {}
        for k, y in x.items():
            if type(k) is not str:
                raise EncodeError(f"object key {k!r} is not a string", path)
            out[k] = _py_value(y, f"{path}.{k}", depth + 1)
        return out
    raise EncodeError(_describe(x), path)


def to_python(value: Any, path: str = "value") -> JSONValue:
    """Convert a Lua value (as lupa hands it to Python) into a plain JSON value.

    Raises :class:`EncodeError` naming the offending path. Error objects become
    :class:`Failure`; other userdata-looking objects become ``None``.
    """
    tv = type(value)
    if tv is str or tv is int or tv is bool or value is None:
        return value
    if tv is _TABLE or isinstance(value, _LUA_OBJECT):
        return _lua_value(value, path)
    return _py_value(value, path, 0)


def to_python_args(values: Any, n: int, path: str = "args") -> list[JSONValue]:
    """Convert ``values[1..n]`` of a Lua table (e.g. ``table.pack(...)``) to a list."""
    out = state_for_value(values).export_list(values, n, path)
    if type(out) is str:
        result = loads_exported(out)
        assert isinstance(result, list)
        return result
    _, reason, where = out
    raise EncodeError(str(reason), str(where))


def describe_tag(tag: Any, payload: Any, retryable: bool | None) -> Failure | None:
    """The Failure for a ``(tag, payload)`` pair of ``C.describe`` (``None`` for tag "py":
    the payload is a Python exception, for the caller to convert)."""
    if tag == "failure":
        value = loads_exported(str(payload))
        if isinstance(value, Failure):
            return value
        return Failure(f"(damaged error object: {value!r})", INTERNAL, retryable)
    if tag == "text":
        return Failure(str(payload), INTERNAL, retryable)
    if tag == "json":
        return Failure(dumps(loads_exported(str(payload))), INTERNAL, retryable)
    if tag == "scalar":
        if payload is None:
            text = "nil"
        elif isinstance(payload, bool):
            text = "true" if payload else "false"
        else:
            text = str(payload)
        return Failure(text, INTERNAL, retryable)
    if tag == "invalid":
        return Failure(str(payload), INVALID, False)
    if tag == "encode":
        return Failure(f"failed to encode result: {payload}", INTERNAL, False)
    if tag == "py":
        return None
    return Failure(f"(error value could not be converted: unknown description {tag!r})", INTERNAL, retryable)


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
    if st.udclass(value) != "error":
        return None
    try:
        failure = _lua_value(value, "error")
    except EncodeError as exc:
        return Failure(str(exc), INVALID, False)
    return failure if isinstance(failure, Failure) else None


def _details_of(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, dict):
        return value
    if value == []:
        return {}
    return {"value": value}
