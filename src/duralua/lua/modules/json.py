"""The ``json`` module (spec lua-modules.md §12).

``json.encode`` follows the boundary rules of :mod:`duralua.lua.convert` and writes canonical
JSON (sorted keys, no spaces); errors are ``nil, err`` of kind ``Internal``. ``json.decode``
gives tables that remember they were JSON objects (an empty ``{}`` re-encodes as ``{}``); bad
JSON is ``nil, err`` of kind ``Internal``, except an empty (or all-blank) text, which is
``Invalid``: there is no document at all, the caller passed nothing.

``json.validate(schema, value)`` / ``validate_string(schema, json_text)`` -> ``true`` or
``false, err`` (``Invalid``) on the ``jsonschema`` library (see ``_schema``: ``$ref`` within the
schema, ``format`` assertions, empty Lua tables). The message lists the first problems, each
with its path (``$.items[1].name``, indexes from 1); ``err:details().errors`` has them as
``{path, message, keyword}`` tables. A schema that is not valid JSON Schema, or a ``$ref`` that
leads nowhere, is ``false, err`` (``Invalid``) too.
"""

from __future__ import annotations

import json as _json
import math
from typing import Any

from ...codec import MAX_DEPTH, dumps
from ...errors import INTERNAL, INVALID, EncodeError, Failure
from ..context import HostContext
from ..convert import LuaState, make_error_object, state_of, to_lua, to_python
from . import _schema
from ._support import ArgError, check_str, fail, new_module, pyfn, type_name


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400: Go's decoder refuses it too
        raise ValueError(f"number {text} is out of range")
    return value


def loads(text: str | bytes) -> Any:
    """Parse JSON text strictly (no NaN/Infinity, no numbers beyond a double); a document nested
    too deep for the parser is a ``ValueError`` like any other bad input."""
    try:
        return _json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise ValueError("nesting too deep") from None


def install(lua: Any, ctx: HostContext) -> Any:
    st = state_of(lua)
    return new_module(st, "json", lambda: _build(st))


def functions(st: LuaState) -> Any:
    """The per-runtime json function table (shared by other modules, e.g. payload)."""
    new_module(st, "json", lambda: _build(st))
    return st.cache["json"]


def _build(st: LuaState) -> dict[str, Any]:
    lua = st.lua

    def encode(value: Any = None, *_: Any) -> Any:
        try:
            if isinstance(value, bytes):  # a string (raw bytes, see pyfn)
                try:
                    py: Any = value.decode("utf-8")
                except UnicodeDecodeError:
                    raise EncodeError(
                        "binary string (not valid UTF-8): JSON cannot carry it; base64-encode it"
                    ) from None
            else:
                py = to_python(value)
            return dumps(py), None
        except EncodeError as exc:
            return fail(st, INTERNAL, f"json.encode: {exc}")

    def decode(text: Any = None, *_: Any) -> Any:
        if not isinstance(text, bytes):
            raise ArgError(f"json.decode: string expected, got {type_name(text)}")
        if not text.strip():
            return fail(st, INVALID, "json.decode: empty string (no JSON document)")
        try:
            return to_lua(lua, loads(text)), None
        except (ValueError, UnicodeDecodeError) as exc:
            return fail(st, INTERNAL, f"json.decode: invalid JSON: {exc}")
        except EncodeError as exc:  # deeper than a Lua value may nest
            return fail(st, INTERNAL, f"json.decode: {exc}")

    def validate(schema: Any = None, value: Any = None, *_: Any) -> Any:
        where = "json.validate"
        try:
            sch = _schema_of(schema, where)
            data = to_python(value, "value")
        except EncodeError as exc:
            return False, _error(f"{where}: {exc}")
        except ValueError as exc:
            return False, _error(f"{where}: invalid schema: {exc}")
        return _result(where, sch, data, from_lua=True)

    def validate_string(schema: Any = None, text: Any = None, *_: Any) -> Any:
        where = "json.validate_string"
        check_str(text, f"{where}: argument #2")
        try:
            sch = _schema_of(schema, where)
        except (EncodeError, ValueError) as exc:
            return False, _error(f"{where}: invalid schema: {exc}")
        if not text.strip():
            return False, _error(f"{where}: empty string (no JSON document)")
        try:
            data = loads(text)
        except ValueError as exc:
            return False, _error(f"{where}: invalid JSON: {exc}")
        if _schema.depth(data) > MAX_DEPTH:  # what json.decode would refuse too
            return False, _error(f"{where}: the value nests deeper than {MAX_DEPTH} levels")
        return _result(where, sch, data, from_lua=False)

    def _error(message: str, details: dict[str, Any] | None = None) -> Any:
        return make_error_object(st, Failure(message, INVALID, False, details))

    def _result(where: str, sch: Any, data: Any, from_lua: bool) -> Any:
        try:
            found = _schema.problems(sch, data, from_lua)
        except _schema.SchemaProblem as exc:
            return False, _error(f"{where}: invalid schema: {exc}")
        if found:
            text = "; ".join(f"{p['path']}: {p['message']}" for p in found)
            more = " (and more)" if len(found) == _schema.MAX_REPORTED else ""
            return False, _error(f"validation failed: {text}{more}", {"errors": found})
        return True, None

    return {
        "encode": pyfn(st, encode, 1),
        "decode": pyfn(st, decode, 1),
        "validate": pyfn(st, validate),
        "validate_string": pyfn(st, validate_string),
    }


def _schema_of(schema: Any, where: str) -> Any:
    if isinstance(schema, str):
        if not schema.strip():
            raise ValueError("empty string (no JSON document)")
        return loads(schema)
    if schema is None:
        raise ValueError("schema is nil")
    if isinstance(schema, bool):
        return schema
    if type_name(schema) != "table":
        raise ArgError(f"{where}: argument #1: table or string expected, got {type_name(schema)}")
    return _schema.lua_schema(to_python(schema, "schema"))
