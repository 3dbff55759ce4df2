"""The ``json`` module (spec lua-modules.md §12).

``json.encode`` follows the boundary rules of :mod:`duralua.lua.convert` and writes canonical
JSON (sorted keys, no spaces); errors are ``nil, err`` of kind ``Internal``. ``json.decode``
gives tables that remember they were JSON objects (an empty ``{}`` re-encodes as ``{}``).

``json.validate``/``validate_string`` implement a JSON Schema subset (no dependency):
``type``, ``enum``, ``const``, ``properties``, ``required``, ``additionalProperties``,
``minProperties``/``maxProperties``, ``items`` (schema or tuple form), ``prefixItems``,
``minItems``/``maxItems``/``uniqueItems``, ``minLength``/``maxLength``/``pattern``,
``minimum``/``maximum``/``exclusiveMinimum``/``exclusiveMaximum``/``multipleOf``,
``allOf``/``anyOf``/``oneOf``/``not``, boolean schemas. ``$ref`` answers ``Internal``
"not supported"; other keywords (``format``, ``title``...) are ignored. Because an empty Lua
table is ambiguous, an empty value matches both ``"array"`` and ``"object"``.
"""

from __future__ import annotations

import json as _json
import math
import re
from typing import Any

from ...codec import dumps
from ...errors import INTERNAL, INVALID, EncodeError
from ..context import HostContext
from ..convert import LuaState, state_of, to_lua, to_python
from ._support import ArgError, check_str, fail, new_module, pyfn, type_name


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def loads(text: str | bytes) -> Any:
    """Parse JSON text strictly (no NaN/Infinity)."""
    return _json.loads(text, parse_constant=_no_constant)


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
        try:
            value = loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            return fail(st, INTERNAL, f"json.decode: invalid JSON: {exc}")
        return to_lua(lua, value), None

    def validate(schema: Any = None, value: Any = None, *_: Any) -> Any:
        try:
            sch = _schema_of(schema)
            data = to_python(value, "value")
        except EncodeError as exc:
            return False, fail(st, INVALID, f"json.validate: {exc}")[1]
        except ValueError as exc:
            return False, fail(st, INVALID, f"json.validate: invalid schema: {exc}")[1]
        return _result(sch, data)

    def validate_string(schema: Any = None, text: Any = None, *_: Any) -> Any:
        check_str(text, "json.validate_string: argument #2")
        try:
            sch = _schema_of(schema)
        except (EncodeError, ValueError) as exc:
            return False, fail(st, INVALID, f"json.validate_string: invalid schema: {exc}")[1]
        try:
            data = loads(text)
        except ValueError as exc:
            return False, fail(st, INVALID, f"json.validate_string: invalid JSON: {exc}")[1]
        return _result(sch, data)

    def _result(sch: Any, data: Any) -> Any:
        try:
            problems = validate_schema(sch, data)
        except _Unsupported as exc:
            return False, fail(st, INTERNAL, f"json.validate: {exc} is not supported")[1]
        if problems:
            return False, fail(st, INVALID, "validation failed: " + "; ".join(problems[:10]))[1]
        return True, None

    return {
        "encode": pyfn(st, encode, 1),
        "decode": pyfn(st, decode, 1),
        "validate": pyfn(st, validate),
        "validate_string": pyfn(st, validate_string),
    }


def _schema_of(schema: Any) -> Any:
    if isinstance(schema, str):
        return loads(schema)
    if schema is None:
        raise ValueError("schema is nil")
    return to_python(schema, "schema")


# ---------------------------------------------------------------------------------------------
# JSON Schema subset
# ---------------------------------------------------------------------------------------------


class _Unsupported(Exception):
    pass


def _json_type(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return type(v).__name__


def _is_type(v: Any, t: str) -> bool:
    actual = _json_type(v)
    if t == actual:
        return True
    if t == "number":
        return actual == "integer"
    if t == "integer":
        return actual == "number" and math.isfinite(v) and float(v).is_integer()
    if t in ("object", "array") and actual in ("object", "array"):
        return len(v) == 0  # an empty Lua table is both
    return False


def _as_dict(v: Any) -> dict[str, Any]:
    if isinstance(v, dict):
        return v
    if v == []:
        return {}
    raise ValueError(f"expected an object, got {_json_type(v)}")


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if (a == [] and b == {}) or (a == {} and b == []):
        return True
    return type(a) is type(b) and bool(a == b)


def _at(path: str, key: Any) -> str:
    return f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}"


def validate_schema(schema: Any, value: Any, path: str = "$") -> list[str]:
    """Problems of ``value`` against ``schema`` (empty list: valid)."""
    if schema is True or schema == [] or schema == {}:
        return []
    if schema is False:
        return [f"{path}: no value is allowed here"]
    s = _as_dict(schema)
    if "$ref" in s:
        raise _Unsupported("$ref")
    out: list[str] = []
    t = s.get("type")
    if t is not None:
        types = t if isinstance(t, list) else [t]
        if not any(_is_type(value, str(x)) for x in types):
            want = " or ".join(str(x) for x in types)
            return [f"{path}: expected {want}, got {_json_type(value)}"]
    if "enum" in s and not any(_equal(value, e) for e in (s["enum"] or [])):
        out.append(f"{path}: value is not one of {dumps(s['enum'])}")
    if "const" in s and not _equal(value, s["const"]):
        out.append(f"{path}: value must be {dumps(s['const'])}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        out += _numeric(s, value, path)
    if isinstance(value, str):
        out += _string(s, value, path)
    if isinstance(value, list) and (value or _json_type(value) == "array"):
        out += _array(s, value, path)
    if isinstance(value, dict) or value == []:
        out += _object(s, value if isinstance(value, dict) else {}, path)
    for sub in s.get("allOf") or []:
        out += validate_schema(sub, value, path)
    if "anyOf" in s and not any(not validate_schema(sub, value, path) for sub in s["anyOf"] or []):
        out.append(f"{path}: value does not match any schema of anyOf")
    if "oneOf" in s:
        n = sum(1 for sub in s["oneOf"] or [] if not validate_schema(sub, value, path))
        if n != 1:
            out.append(f"{path}: value matches {n} schemas of oneOf (exactly one required)")
    if "not" in s and not validate_schema(s["not"], value, path):
        out.append(f"{path}: value must not match the schema in not")
    return out


def _numeric(s: dict[str, Any], v: float, path: str) -> list[str]:
    out = []
    lo, hi = s.get("minimum"), s.get("maximum")
    xlo, xhi = s.get("exclusiveMinimum"), s.get("exclusiveMaximum")
    if xlo is True:  # draft 4 boolean form
        xlo, lo = lo, None
    if xhi is True:
        xhi, hi = hi, None
    if isinstance(lo, (int, float)) and v < lo:
        out.append(f"{path}: {v} is less than the minimum {lo}")
    if isinstance(hi, (int, float)) and v > hi:
        out.append(f"{path}: {v} is greater than the maximum {hi}")
    if isinstance(xlo, (int, float)) and not isinstance(xlo, bool) and v <= xlo:
        out.append(f"{path}: {v} must be greater than {xlo}")
    if isinstance(xhi, (int, float)) and not isinstance(xhi, bool) and v >= xhi:
        out.append(f"{path}: {v} must be less than {xhi}")
    mult = s.get("multipleOf")
    if isinstance(mult, (int, float)) and mult > 0:
        q = v / mult
        if not (math.isfinite(q) and abs(q - round(q)) < 1e-9):
            out.append(f"{path}: {v} is not a multiple of {mult}")
    return out


def _string(s: dict[str, Any], v: str, path: str) -> list[str]:
    out = []
    n = len(v)
    if isinstance(s.get("minLength"), int) and n < s["minLength"]:
        out.append(f"{path}: string is shorter than {s['minLength']} characters")
    if isinstance(s.get("maxLength"), int) and n > s["maxLength"]:
        out.append(f"{path}: string is longer than {s['maxLength']} characters")
    pattern = s.get("pattern")
    if isinstance(pattern, str):
        try:
            if re.search(pattern, v) is None:
                out.append(f"{path}: string does not match pattern {pattern!r}")
        except re.error as exc:
            raise ValueError(f"bad pattern {pattern!r}: {exc}") from None
    return out


def _array(s: dict[str, Any], v: list[Any], path: str) -> list[str]:
    out = []
    if isinstance(s.get("minItems"), int) and len(v) < s["minItems"]:
        out.append(f"{path}: array has fewer than {s['minItems']} items")
    if isinstance(s.get("maxItems"), int) and len(v) > s["maxItems"]:
        out.append(f"{path}: array has more than {s['maxItems']} items")
    if s.get("uniqueItems") is True:
        for i in range(len(v)):
            if any(_equal(v[i], v[j]) for j in range(i)):
                out.append(f"{path}: items are not unique ({_at(path, i + 1)})")
                break
    prefix = s.get("prefixItems")
    items = s.get("items")
    if isinstance(items, list) and items and isinstance(items[0], (dict, bool)):
        prefix, items = items, s.get("additionalItems")
    start = 0
    if isinstance(prefix, list):
        for i, sub in enumerate(prefix[: len(v)]):
            out += validate_schema(sub, v[i], _at(path, i + 1))
        start = len(prefix)
    if items is not None and items != []:
        for i in range(start, len(v)):
            out += validate_schema(items, v[i], _at(path, i + 1))
    return out


def _object(s: dict[str, Any], v: dict[str, Any], path: str) -> list[str]:
    out = []
    for key in s.get("required") or []:
        if key not in v:
            out.append(f"{path}: missing required property {key!r}")
    if isinstance(s.get("minProperties"), int) and len(v) < s["minProperties"]:
        out.append(f"{path}: object has fewer than {s['minProperties']} properties")
    if isinstance(s.get("maxProperties"), int) and len(v) > s["maxProperties"]:
        out.append(f"{path}: object has more than {s['maxProperties']} properties")
    props = _as_dict(s.get("properties") or {})
    for key, sub in props.items():
        if key in v:
            out += validate_schema(sub, v[key], _at(path, key))
    extra = s.get("additionalProperties")
    if extra is not None and extra is not True:
        for key in v:
            if key not in props:
                if extra is False:
                    out.append(f"{path}: property {key!r} is not allowed")
                else:
                    out += validate_schema(extra, v[key], _at(path, key))
    return out
