"""The ``json`` module and the ``payload`` global (spec lua-modules.md §12, §13)."""

from __future__ import annotations

from typing import Any

import lupa.lua54 as lupa54
import pytest

from duralua.errors import Failure
from duralua.lua.context import SystemContext
from duralua.lua.convert import to_python
from duralua.lua.modules import MODULE_INSTALLERS
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
    assert err_of(lua, "json.decode('')") == (None, "Invalid", "json.decode: empty string (no JSON document)")
    assert err_of(lua, "json.decode(' \\n\\t')")[:2] == (None, "Invalid")
    value, kind, msg = err_of(lua, "json.decode('{bad')")
    assert value is None and kind == "Internal" and "invalid JSON" in msg
    assert err_of(lua, "json.decode('NaN')")[1] == "Internal"
    assert err_of(lua, r"json.decode('\xff')")[1] == "Internal"
    ok, msg = run(lua, "return pcall(function() local v = json.decode(42) return v end)")
    assert ok is False and "user.lua:1: json.decode: string expected" in msg


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("string.rep('[', 200) .. string.rep(']', 200)", "json.decode: value: nesting deeper than 128 levels"),
        ("string.rep('[', 100000) .. string.rep(']', 100000)", "json.decode: invalid JSON: nesting too deep"),
        ("'1e400'", "json.decode: invalid JSON: number 1e400 is out of range"),
        ("'[-1e999]'", "json.decode: invalid JSON: number -1e999 is out of range"),
    ],
)
def test_decode_too_deep_or_out_of_range_is_an_error_value(lua: Any, text: str, message: str) -> None:
    assert err_of(lua, f"json.decode({text})") == (None, "Internal", message)


def test_decode_big_numbers(lua: Any) -> None:
    assert run(lua, "return json.decode('1.5e300'), json.decode('123456789012345678901234567890')") == (
        1.5e300,
        1.2345678901234568e29,
        None,
    )


def test_roundtrip_keeps_object_and_array_empties(lua: Any) -> None:
    text = '{"a":{},"b":[],"c":[{}]}'
    assert run(lua, f"return json.encode(json.decode('{text}'))")[0] == text


# ---------------------------------------------------------------------------------------------
# json.validate (jsonschema)
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
    assert msg.startswith("validation failed: ")
    for part in (
        "$.name: 'B' is too short",
        "$.name: 'B' does not match '^[a-z]+$'",
        "$.age: 3.5 is not of type 'integer'",
        "$.tags[1]: 1 is not of type 'string'",  # Lua's index of the first item
        "$.tags: [1, 'a', 'b'] is too long",
        "$: Additional properties are not allowed ('x' was unexpected)",
    ):
        assert part in msg, part
    assert "$: 'age' is a required property" in err_of(lua, f"json.validate({schema}, {{name = 'bob'}})")[2]
    assert (
        "$.kind: 'z' is not one of ['a', 'b']"
        in err_of(lua, f"json.validate({schema}, {{name = 'bob', age = 1, kind = 'z'}})")[2]
    )


def test_validate_details_list_each_problem(lua: Any) -> None:
    got = run(
        lua,
        "local ok, e = json.validate({type = 'array', items = {type = 'integer', minimum = 1}}, {1, 0, 'x'})"
        " local d = e:details().errors"
        " return ok, #d, d[1].path, d[1].keyword, d[2].path, d[2].keyword, d[2].message",
    )
    assert got == (False, 2, "$[2]", "minimum", "$[3]", "type", "'x' is not of type 'integer'")


def test_validate_reports_at_most_ten_problems(lua: Any) -> None:
    got = run(
        lua,
        "local v = {} for i = 1, 50 do v[i] = 'x' end"
        " local ok, e = json.validate({type = 'array', items = {type = 'integer'}}, v)"
        " return #e:details().errors, e:message()",
    )
    assert got[0] == 10 and got[1].endswith("(and more)") and "$[10]" in got[1] and "$[11]" not in got[1]


def test_validate_string_and_json_schema_text(lua: Any) -> None:
    schema = '{"type":"array","items":{"type":"number","exclusiveMinimum":0}}'
    assert run(lua, f"return json.validate_string('{schema}', '[1, 2.5]')") == (True, None)
    assert (
        "$[2]: 0 is less than or equal to the minimum of 0"
        in err_of(lua, f"json.validate_string('{schema}', '[1, 0]')")[2]
    )
    assert "invalid JSON" in err_of(lua, f"json.validate_string('{schema}', '[1,')")[2]
    assert err_of(lua, f"json.validate('{schema}', {{1, -1}})")[:2] == (False, "Invalid")
    # a JSON-text value keeps its types: "{}" is an object, not an array
    assert err_of(lua, "json.validate_string('{\"type\": \"array\"}', '{}')")[:2] == (False, "Invalid")


def test_validate_ref(lua: Any) -> None:
    schema = (
        "{['$defs'] = {pos = {type = 'integer', minimum = 1}, pair = {type = 'array',"
        " prefixItems = {{['$ref'] = '#/$defs/pos'}, {['$ref'] = '#/$defs/pos'}}}},"
        " type = 'object', properties = {p = {['$ref'] = '#/$defs/pair'}}}"
    )
    assert run(lua, f"return json.validate({schema}, {{p = {{1, 2}}}})") == (True, None)
    assert err_of(lua, f"json.validate({schema}, {{p = {{1, 0}}}})") == (
        False,
        "Invalid",
        "validation failed: $.p[2]: 0 is less than the minimum of 1",
    )
    text = '{"definitions": {"s": {"type": "string"}}, "$ref": "#/definitions/s"}'
    assert run(lua, f"return json.validate_string('{text}', '\"x\"')") == (True, None)
    assert err_of(lua, f"json.validate_string('{text}', '1')")[:2] == (False, "Invalid")


def test_validate_ref_never_fetches(lua: Any) -> None:
    for ref in ("https://example.invalid/schema.json", "#/$defs/missing"):
        ok, kind, msg = err_of(lua, f"json.validate({{['$ref'] = '{ref}'}}, 1)")
        assert (ok, kind) == (False, "Invalid") and "invalid schema: unresolvable $ref" in msg, msg
    # the meta-schemas are known without fetching them
    meta = "{['$ref'] = 'https://json-schema.org/draft/2020-12/schema'}"
    assert run(lua, f"return json.validate({meta}, {{type = 'string'}})") == (True, None)
    assert err_of(lua, f"json.validate({meta}, {{type = 5}})")[:2] == (False, "Invalid")


@pytest.mark.parametrize(
    ("fmt", "good", "bad"),
    [
        ("date-time", "2024-05-01T10:00:00Z", "2024-05-01"),
        ("date", "2024-05-01", "2024-13-01"),
        ("email", "a@example.com", "nope"),
        ("ipv4", "10.0.0.1", "10.0.0.256"),
        ("uuid", "f47ac10b-58cc-4372-a567-0e02b2c3d479", "f47ac10b"),
        ("uri", "https://example.com/x", "not a uri"),
    ],
)
def test_validate_format(lua: Any, fmt: str, good: str, bad: str) -> None:
    schema = f"{{type = 'string', format = '{fmt}'}}"
    assert run(lua, f"return json.validate({schema}, '{good}')") == (True, None)
    assert err_of(lua, f"json.validate({schema}, '{bad}')") == (
        False,
        "Invalid",
        f"validation failed: $: '{bad}' is not a '{fmt}'",
    )


def test_validate_unknown_format_is_an_annotation(lua: Any) -> None:
    assert run(lua, "return json.validate({type = 'string', format = 'shoe-size'}, 'x')") == (True, None)


def test_validate_empty_lua_tables(lua: Any) -> None:
    # an empty table is both an empty array and an empty object...
    for schema in ("{type = 'object'}", "{type = 'array'}", "{type = 'object', properties = {}}", "{items = {}}"):
        assert run(lua, f"return json.validate({schema}, {{}})") == (True, None), schema
    assert "'a' is a required property" in err_of(lua, "json.validate({type = 'object', required = {'a'}}, {})")[2]
    assert "should be non-empty" in err_of(lua, "json.validate({type = 'array', minItems = 1}, {})")[2]
    got = err_of(lua, "json.validate({patternProperties = {['^x'] = {type = 'string'}}, additionalItems = false}, {})")
    assert got == (True, None, None)
    assert run(lua, "return json.validate({enum = {{}}}, {}), json.validate({const = {}}, {})") == (True, True, None)
    # ...but a table json.decode made from {} stays an object
    assert err_of(lua, "json.validate({type = 'array'}, json.decode('{}'))")[:2] == (False, "Invalid")
    # an empty schema table accepts anything
    assert run(lua, "return json.validate({}, {a = 1}), json.validate({anyOf = {{}, {type = 'null'}}}, 3)") == (
        True,
        True,
        None,
    )


def test_validate_combinators_and_booleans(lua: Any) -> None:
    assert run(lua, "return json.validate({anyOf = {{type = 'string'}, {type = 'integer'}}}, 3)") == (True, None)
    assert err_of(lua, "json.validate({oneOf = {{type = 'number'}, {type = 'integer'}}}, 3)")[:2] == (False, "Invalid")
    assert err_of(lua, "json.validate({['not'] = {type = 'null'}}, nil)")[:2] == (False, "Invalid")
    assert err_of(lua, "json.validate({allOf = {{minimum = 1}, {maximum = 2}}}, 5)")[:2] == (False, "Invalid")
    assert run(lua, "return json.validate({const = 1}, 1.0)") == (True, None)
    assert err_of(lua, "json.validate({type = 'array', uniqueItems = true}, {1, 2, 1})")[:2] == (False, "Invalid")
    assert run(lua, "return json.validate(true, 1)") == (True, None)
    assert err_of(lua, "json.validate(false, 1)")[:2] == (False, "Invalid")
    assert run(lua, "return json.validate_string('true', '1')") == (True, None)


@pytest.mark.parametrize(
    ("call", "part"),
    [
        ("json.validate({type = 'nope'}, 1)", "invalid schema: $.type: 'nope' is not valid under any"),
        ("json.validate({pattern = '('}, 'x')", "invalid schema: $.pattern: '(' is not a 'regex'"),
        ("json.validate('[1]', 1)", "invalid schema: a schema is an object or a boolean, not an array"),
        ("json.validate('{bad', 1)", "invalid schema"),
        ("json.validate('', 1)", "invalid schema: empty string"),
        ("json.validate(nil, 1)", "invalid schema: schema is nil"),
        ("json.validate_string({type = 'string'}, '')", "empty string"),
        ("json.validate_string({type = 'string'}, '  ')", "empty string"),
        ("json.validate({type = 'string'}, {f = print})", "json.validate: value.f"),
    ],
)
def test_validate_errors(lua: Any, call: str, part: str) -> None:
    ok, kind, msg = err_of(lua, call)
    assert (ok, kind) == (False, "Invalid") and part in msg, msg


def test_validate_deep_values_and_ref_cycles(lua: Any) -> None:
    recursive = '{"type": "array", "items": {"$ref": "#"}}'
    assert run(lua, f"return json.validate_string('{recursive}', string.rep('[', 128) .. string.rep(']', 128))") == (
        True,
        None,
    )
    assert err_of(lua, f"json.validate_string('{recursive}', string.rep('[', 900) .. string.rep(']', 900))") == (
        False,
        "Invalid",
        "json.validate_string: the value nests deeper than 128 levels",
    )
    for cycle in (
        '{"$ref": "#"}',
        '{"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}',
    ):
        ok, kind, msg = err_of(lua, f"json.validate('{cycle}', 1)")
        assert (ok, kind) == (False, "Invalid") and "invalid schema: validation recursed too deep" in msg, msg


def test_validate_wrong_argument_types_raise(lua: Any) -> None:
    for call in ("json.validate(42, 1)", "json.validate_string({}, 42)", "json.validate_string({})"):
        ok, msg = run(lua, f"return pcall(function() local v = {call} return v end)")
        assert ok is False and "string expected" in msg, (call, msg)


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


def test_payload_binary_string_to_json_is_an_error_value(lua: Any) -> None:
    assert err_of(lua, "payload.new('\\255'):transcode(payload.format.JSON)") == (
        None,
        "Internal",
        "payload: binary string (not valid UTF-8): JSON cannot carry it; base64-encode it first (base64.encode)",
    )
    got = run(lua, "local p = payload.new('\\255') return #p:transcode(payload.format.BYTES):data(), "
                   "payload.new('ok'):transcode(payload.format.JSON):data()")  # fmt: skip
    assert got == (1, "ok", None)


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
