"""The ``json`` module and the ``payload`` global (spec lua-modules.md §12, §13)."""

from __future__ import annotations

from typing import Any

import lupa.lua54 as lupa54
import pytest

from duralua.errors import Failure
from duralua.lua.context import SystemContext
from duralua.lua.convert import to_python
from duralua.lua.modules import MODULE_INSTALLERS
from duralua.lua.modules.json import validate_schema
from duralua.lua.modules.payload import make_payload


def _refuse(obj: Any, name: Any, is_setting: bool) -> Any:
    raise AttributeError(name)


@pytest.fixture
def lua() -> Any:
    lua = lupa54.LuaRuntime(
        register_eval=False, register_builtins=False, unpack_returned_tuples=True, attribute_filter=_refuse
    )
    g = lua.globals()
    for name, inst in MODULE_INSTALLERS.items():
        g[name] = inst(lua, SystemContext())
    return lua


def run(lua: Any, src: str) -> Any:
    return lua.execute(src, name="=user.lua")


def err_of(lua: Any, src: str) -> tuple[Any, str, str]:
    """Run a snippet returning ``value, err``; give back (value, kind, message)."""
    return run(lua, f"local v, e = {src} return v, e and e:kind(), e and e:message()")


# ---------------------------------------------------------------------------------------------
# json.encode / json.decode
# ---------------------------------------------------------------------------------------------


def test_encode_is_canonical(lua: Any) -> None:
    assert run(lua, "return json.encode({c = 'x', a = 1, b = {1, 2.5, true}, d = {}})") == (
        '{"a":1,"b":[1,2.5,true],"c":"x","d":[]}',
        None,
    )
    assert run(lua, "return json.encode(1.0), json.encode(nil), (json.encode('é\"'))") == (
        "1.0",
        "null",
        '"é\\""',
    )


def test_encode_errors_are_internal_with_path(lua: Any) -> None:
    value, kind, msg = err_of(lua, "json.encode({items = {1, 2, nil, 4}})")
    assert value is None and kind == "Internal"
    assert "value.items: sparse array" in msg
    assert "NaN" in err_of(lua, "json.encode({x = 0/0})")[2]
    assert "function" in err_of(lua, "json.encode({f = print})")[2]
    assert "binary string" in err_of(lua, r"json.encode('\xff')")[2]
    assert "value.a: binary string" in err_of(lua, r"json.encode({a = '\xff'})")[2]


def test_encode_drops_userdata_and_encodes_errors(lua: Any) -> None:
    assert run(lua, "return json.encode({t = time.now(), n = 1})")[0] == '{"n":1}'
    text = run(lua, "return json.encode({e = errors.new{message = 'm', kind = 'Invalid'}})")[0]
    assert text == '{"e":{"__error":{"kind":"Invalid","message":"m","stack":"user.lua:1: in main chunk"}}}'


def test_decode(lua: Any) -> None:
    got = run(
        lua,
        'local v = json.decode(\'{"a": 1, "b": 1.0, "c": [true, null, "s"], "d": {}, "e": null}\')'
        " return math.type(v.a), math.type(v.b), v.c[1], v.c[2], v.c[3], v.e, (json.encode(v.d))",
    )
    assert got == ("integer", "float", True, None, "s", None, "{}")
    assert run(lua, "return json.decode('[1,2]')[2], json.decode('\"x\"'), (json.decode('3'))") == (2, "x", 3)


def test_decode_errors(lua: Any) -> None:
    value, kind, msg = err_of(lua, "json.decode('{bad')")
    assert value is None and kind == "Internal" and "invalid JSON" in msg
    assert err_of(lua, "json.decode('NaN')")[1] == "Internal"
    assert err_of(lua, r"json.decode('\xff')")[1] == "Internal"
    ok, msg = run(lua, "return pcall(function() local v = json.decode(42) return v end)")
    assert ok is False and "user.lua:1: json.decode: string expected" in msg


def test_roundtrip_keeps_object_and_array_empties(lua: Any) -> None:
    text = '{"a":{},"b":[],"c":[{}]}'
    assert run(lua, f"return json.encode(json.decode('{text}'))")[0] == text


# ---------------------------------------------------------------------------------------------
# json.validate (subset)
# ---------------------------------------------------------------------------------------------


def test_validate_ok_and_failures(lua: Any) -> None:
    schema = (
        "{type = 'object', required = {'name', 'age'}, additionalProperties = false, properties = {"
        " name = {type = 'string', minLength = 2, maxLength = 5, pattern = '^[a-z]+$'},"
        " age = {type = 'integer', minimum = 0, maximum = 150},"
        " tags = {type = 'array', items = {type = 'string'}, maxItems = 2},"
        " kind = {enum = {'a', 'b'}}}}"
    )
    assert run(lua, f"return json.validate({schema}, {{name = 'bob', age = 3, tags = {{'x'}}, kind = 'a'}})") == (
        True,
        None,
    )
    ok, kind, msg = err_of(lua, f"json.validate({schema}, {{name = 'B', age = 3.5, tags = {{1, 'a', 'b'}}, x = 1}})")
    assert ok is False and kind == "Invalid"
    for part in (
        "$.name: string is shorter",
        "$.age: expected integer",
        "$.tags[1]: expected string",
        "more than 2 items",
        "property 'x' is not allowed",
        "pattern",
    ):
        assert part in msg, part
    assert "missing required property 'age'" in err_of(lua, f"json.validate({schema}, {{name = 'bob'}})")[2]
    assert "not one of" in err_of(lua, f"json.validate({schema}, {{name = 'bob', age = 1, kind = 'z'}})")[2]


def test_validate_string_and_json_schema_text(lua: Any) -> None:
    schema = '{"type":"array","items":{"type":"number","exclusiveMinimum":0}}'
    assert run(lua, f"return json.validate_string('{schema}', '[1, 2.5]')") == (True, None)
    assert "must be greater than 0" in err_of(lua, f"json.validate_string('{schema}', '[1, 0]')")[2]
    assert "invalid JSON" in err_of(lua, f"json.validate_string('{schema}', '[1,')")[2]
    assert err_of(lua, 'json.validate(\'{"$ref": "#/x"}\', 1)')[1] == "Internal"


def test_validate_schema_combinators() -> None:
    assert validate_schema({"anyOf": [{"type": "string"}, {"type": "integer"}]}, 3) == []
    assert validate_schema({"oneOf": [{"type": "number"}, {"type": "integer"}]}, 3) != []
    assert validate_schema({"not": {"type": "null"}}, None) != []
    assert validate_schema({"allOf": [{"minimum": 1}, {"maximum": 2}]}, 5) != []
    assert validate_schema({"type": "object"}, []) == []  # an empty Lua table is both
    assert validate_schema({"const": 1}, 1.0) == []
    assert validate_schema({"type": "array", "uniqueItems": True}, [1, 2, 1]) != []
    assert validate_schema(False, 1) != [] and validate_schema(True, 1) == []


# ---------------------------------------------------------------------------------------------
# payload
# ---------------------------------------------------------------------------------------------


def test_payload_formats(lua: Any) -> None:
    got = run(
        lua,
        "local f = payload.format return f.JSON, f.YAML, f.STRING, f.BYTES, f.MSGPACK, f.LUA, f.GOLANG, f.ERROR",
    )
    assert got == (
        "json/plain",
        "yaml/plain",
        "text/plain",
        "application/octet-stream",
        "application/msgpack",
        "lua/any",
        "golang/any",
        "golang/error",
    )


def test_payload_new_data_transcode(lua: Any) -> None:
    got = run(
        lua,
        "local p = payload.new({a = 1, t = time.now()})"
        " local j = p:transcode(payload.format.JSON)"
        " local s = p:transcode(payload.format.STRING)"
        " local back = s:transcode(payload.format.JSON)"
        " local l = j:transcode(payload.format.LUA)"
        " return p:get_format(), p:data().a, j:get_format(), j:data().a, j:data().t, s:data(), back:data().a,"
        " l:get_format(), s:unmarshal().a, type(p)",
    )
    assert got == ("lua/any", 1, "json/plain", 1, None, '{"a":1}', 1, "lua/any", 1, "table")


def test_payload_errors(lua: Any) -> None:
    assert err_of(lua, "payload.new(1):transcode(payload.format.YAML)")[1] == "Internal"
    assert err_of(lua, "payload.new(1):transcode('nope/nope')")[1] == "Invalid"
    assert err_of(lua, "payload.new({f = print}):transcode(payload.format.JSON)")[1] == "Internal"
    assert err_of(lua, "payload.new('{bad'):transcode(payload.format.STRING):transcode(payload.format.JSON)")[1] == (
        "Internal"
    )
    got = run(
        lua,
        "local p = payload.new(errors.new('x')) return p:get_format(), tostring(p:data()),"
        " (p:transcode(payload.format.STRING):data())",
    )
    assert got == ("golang/error", "x", "x")


def test_make_payload(lua: Any) -> None:
    probe = lua.eval("function(p) local v = p:data() return p:get_format(), v end")
    fmt, value = probe(make_payload(lua, {"k": [1, {}]}))
    assert fmt == "json/plain" and to_python(value) == {"k": [1, {}]}
    fmt, value = probe(make_payload(lua, Failure("nope", "NotFound")))
    assert fmt == "golang/error" and lua.eval("function(e) return e:kind() end")(value) == "NotFound"
    raw = make_payload(lua, b"\x00\x01")
    assert lua.eval("function(p) return p:get_format(), #p:data() end")(raw) == (
        "application/octet-stream",
        2,
    )
    assert probe(make_payload(lua, "s")) == ("json/plain", "s")
