"""The ``payload`` global (spec lua-modules.md §13) and :func:`make_payload`.

Formats: ``json/plain``, ``lua/any`` and ``golang/any`` payloads hold a decoded Lua value;
``text/plain`` and ``application/octet-stream`` hold a string; ``golang/error`` an error
object. ``p:data()`` returns what the payload holds; ``p:unmarshal()`` is the same except that
text/bytes payloads are JSON-decoded. ``p:transcode(fmt)`` converts between json / lua /
golang / text / bytes (JSON semantics apply when going to ``json/plain``: userdata dropped,
binary strings refused...); YAML and MsgPack answer ``Internal`` "not supported".
"""

from __future__ import annotations

from typing import Any

from ...codec import JSONValue
from ...errors import INTERNAL, EncodeError, Failure
from ..context import HostContext
from ..convert import BINARY_STRING, LuaState, make_error_object, state_of, to_lua, to_python
from ._support import error_value, fail, lua_source, pyfn
from .json import functions as _json_functions
from .json import loads

FORMATS = {
    "JSON": "json/plain",
    "YAML": "yaml/plain",
    "STRING": "text/plain",
    "BYTES": "application/octet-stream",
    "MSGPACK": "application/msgpack",
    "LUA": "lua/any",
    "GOLANG": "golang/any",
    "ERROR": "golang/error",
}


def _setup(st: LuaState) -> Any:
    lua = st.lua
    json_mod = _json_functions(st)

    def roundtrip(value: Any) -> Any:
        if isinstance(value, bytes):  # a string (raw bytes, see pyfn): binary ones cannot be JSON
            try:
                return value.decode("utf-8"), None
            except UnicodeDecodeError:
                return fail(st, INTERNAL, f"payload: {BINARY_STRING}")
        try:
            return to_lua(lua, to_python(value)), None
        except EncodeError as exc:
            return fail(st, INTERNAL, f"payload: {exc}")

    def decode_text(text: Any) -> Any:
        try:
            return to_lua(lua, loads(text)), None
        except (ValueError, UnicodeDecodeError) as exc:
            return fail(st, INTERNAL, f"payload: invalid JSON: {exc}")

    py = lua.table_from(
        {
            "roundtrip": pyfn(st, roundtrip, 1),
            "decode": pyfn(st, decode_text, 1),
            "encode": json_mod.encode,
            "error": pyfn(st, lambda kind, msg: error_value(st, str(kind), str(msg), False)),
        }
    )
    return st.execute(lua_source("payload.lua"), st.core, py, name="=duralua.payload")


def payload_classes(lua: Any) -> Any:
    """The per-state Payload helpers (Lua table: ``M`` the module, ``new(format, value)``)."""
    return _classes(lua)


def _classes(lua: Any) -> Any:
    st = state_of(lua)
    return st.cached("payload", lambda: _setup(st))


def install(lua: Any, ctx: HostContext) -> Any:
    st = state_of(lua)
    return st.copy(_classes(lua).M)


def make_payload(lua: Any, value: JSONValue, fmt: str | None = None) -> Any:
    """A Payload for a value that arrived from outside (message, future result).

    Failures become ``golang/error`` payloads, ``bytes`` ``application/octet-stream``,
    anything else ``json/plain`` (or ``fmt``) holding the converted Lua value.
    """
    new = _classes(lua).new
    if isinstance(value, Failure):
        return new(fmt or FORMATS["ERROR"], make_error_object(state_of(lua), value))
    if isinstance(value, (bytes, bytearray)):
        return new(fmt or FORMATS["BYTES"], bytes(value))
    return new(fmt or FORMATS["JSON"], to_lua(lua, value))
