"""Lua <-> Python value conversion at process/workflow/activity boundaries (duralua.lua.convert)."""

from __future__ import annotations

import gc
import weakref
from typing import Any

import lupa.lua54 as lupa54
import pytest

from duralua.codec import MAX_DEPTH, dumps
from duralua.errors import EncodeError, Failure
from duralua.lua.context import SystemContext
from duralua.lua.convert import state_of, to_lua, to_python, to_python_args
from duralua.lua.modules import MODULE_INSTALLERS
from duralua.lua.modules.errors import (
    failure_from_raise,
    failure_from_return,
    failure_of,
    make_error,
)


def _refuse(obj: Any, name: Any, is_setting: bool) -> Any:
    raise AttributeError(name)


def make_lua() -> Any:
    lua = lupa54.LuaRuntime(
        register_eval=False, register_builtins=False, unpack_returned_tuples=True, attribute_filter=_refuse
    )
    g = lua.globals()
    for name, install in MODULE_INSTALLERS.items():
        g[name] = install(lua, SystemContext())
    return lua


@pytest.fixture
def lua() -> Any:
    return make_lua()


def conv(lua: Any, src: str, path: str = "value") -> Any:
    return to_python(lua.eval(src), path)


def encode_error(lua: Any, src: str, path: str = "value") -> str:
    with pytest.raises(EncodeError) as info:
        conv(lua, src, path)
    return str(info.value)


# ---------------------------------------------------------------------------------------------
# Lua -> Python
# ---------------------------------------------------------------------------------------------


def test_scalars(lua: Any) -> None:
    assert conv(lua, "nil") is None
    assert conv(lua, "true") is True
    assert conv(lua, "'héllo'") == "héllo"
    assert conv(lua, "42") == 42 and type(conv(lua, "42")) is int
    assert type(conv(lua, "42.0")) is float
    assert conv(lua, "math.maxinteger") == 2**63 - 1
    assert type(conv(lua, "2^53")) is float


def test_arrays_and_objects(lua: Any) -> None:
    assert conv(lua, "{a=1, b={1,2,3}, c='x'}") == {"a": 1, "b": [1, 2, 3], "c": "x"}
    assert conv(lua, "{{x=1.5}, {y={true, false}}}") == [{"x": 1.5}, {"y": [True, False]}]
    value = conv(lua, "{1, 2.0, 3}")
    assert value == [1, 2.0, 3] and [type(v) for v in value] == [int, float, int]


def test_empty_table_literal_is_array_json_object_is_object(lua: Any) -> None:
    assert conv(lua, "{}") == []
    lua.execute('decoded = json.decode(\'{"a": {}, "b": [], "c": {"k": 1}}\')')
    assert to_python(lua.globals().decoded) == {"a": {}, "b": [], "c": {"k": 1}}
    # an object emptied by Lua code stays an object
    lua.execute("decoded.c.k = nil")
    assert to_python(lua.globals().decoded)["c"] == {}
    # tables built by to_lua from dicts are objects too
    t = to_lua(lua, {"empty": {}, "list": []})
    assert to_python(t) == {"empty": {}, "list": []}


def test_user_metatables_still_work(lua: Any) -> None:
    src = "setmetatable({a = 1}, {__index = function(t, k) return 'dflt' end, __len = function() return 9 end})"
    assert conv(lua, src) == {"a": 1}
    assert conv(lua, "setmetatable({}, {__index = {b = 2}})") == []


def test_sparse_and_mixed_tables_name_the_path(lua: Any) -> None:
    msg = encode_error(lua, "{items = {1, 2, nil, 4}}", "result")
    assert msg.startswith("result.items: sparse array")
    assert "index 3 is missing" in msg
    msg = encode_error(lua, "{a = {b = {1, 2, x = 3}}}")
    assert msg.startswith("value.a.b: mixed table")
    assert "table key of type float" in encode_error(lua, "{[1.5] = true}")
    assert "table key of type boolean" in encode_error(lua, "{[true] = 1}")
    assert "index 0" in encode_error(lua, "{[0] = 'zero'}")


def test_nan_inf_functions_coroutines(lua: Any) -> None:
    assert encode_error(lua, "{a = {b = {1, 2, {c = 0/0}}}}") == "value.a.b[3].c: NaN cannot be encoded"
    assert encode_error(lua, "{x = 1/0}") == "value.x: infinity cannot be encoded"
    assert encode_error(lua, "{f = print}") == "value.f: a function cannot be encoded"
    assert "coroutine" in encode_error(lua, "{co = coroutine.create(function() end)}")
    with pytest.raises(EncodeError, match="NaN"):
        to_python(float("nan"))
    with pytest.raises(EncodeError, match="function"):
        to_python(lua.eval("print"))


def test_binary_strings_are_refused_with_path(lua: Any) -> None:
    msg = encode_error(lua, r"{a = {'ok', '\xff\xfe'}}", "args[1]")
    assert msg.startswith("args[1].a[2]: binary string")
    assert "base64" in msg
    assert "key is a binary string" in encode_error(lua, r"{['\xff'] = 1}")
    # valid UTF-8 (multi-byte) is fine
    assert conv(lua, r"{s = '\u{1F600}'}") == {"s": "\U0001f600"}


def test_cycles_and_depth(lua: Any) -> None:
    msg = encode_error(lua, "(function() local t = {}; t.a = {b = t}; return t end)()")
    assert msg == "value.a.b: cycle: this table is the same table as value"
    deep_ok = "local t = 1 " + "t = {t} " * MAX_DEPTH + "return t"
    value = to_python(lua.execute(deep_ok))
    for _ in range(MAX_DEPTH):
        value = value[0]
    assert value == 1
    too_deep = "local t = 1 " + "t = {t} " * (MAX_DEPTH + 2) + "return t"
    with pytest.raises(EncodeError, match=f"deeper than {MAX_DEPTH}"):
        to_python(lua.execute(too_deep))


def test_shared_subtables_are_not_cycles(lua: Any) -> None:
    assert conv(lua, "(function() local x = {1}; return {x, x, {x}} end)()") == [[1], [1], [[1]]]


def test_userdata_become_nil(lua: Any) -> None:
    assert conv(lua, "{t = time.now(), d = time.parse_duration('1s'), n = 1}") == {"n": 1}
    assert conv(lua, "{time.now(), 2}") == [None, 2]
    assert conv(lua, "{p = payload.new(1), l = time.utc}") == {}
    assert conv(lua, "time.now()") is None


def test_error_objects_become_failures(lua: Any) -> None:
    value = conv(
        lua,
        "{err = errors.new{message = 'nope', kind = errors.NOT_FOUND, retryable = false, details = {id = 7}}}",
    )
    failure = value["err"]
    assert isinstance(failure, Failure)
    assert (failure.message, failure.kind, failure.retryable, failure.details) == (
        "nope",
        "NotFound",
        False,
        {"id": 7},
    )
    assert dumps(value).startswith('{"err":{"__error":')


def test_to_python_args(lua: Any) -> None:
    packed = lua.eval("table.pack(1, nil, {a = 'x'})")
    assert to_python_args(packed, 3) == [1, None, {"a": "x"}]


def test_python_values_pass_through() -> None:
    assert to_python({"a": [1, (2, 3.5)]}) == {"a": [1, [2, 3.5]]}  # plain Python values are accepted
    with pytest.raises(EncodeError, match=r"value.a\[2\]: NaN"):
        to_python({"a": [1, float("nan")]})
    failure = Failure("x")
    assert to_python(failure) is failure


# ---------------------------------------------------------------------------------------------
# Python -> Lua
# ---------------------------------------------------------------------------------------------


def test_to_lua_roundtrip(lua: Any) -> None:
    data = {"a": 1, "b": [1, 2.5, "x", True, None], "c": {"d": {}}, "e": [], "big": 2**70}
    t = to_lua(lua, data)
    check = lua.eval("function(t) return t.a, math.type(t.a), t.b[2], t.b[3], t.b[5], math.type(t.big) end")
    assert check(t) == (1, "integer", 2.5, "x", None, "float")
    back = to_python(t)
    assert back == {"a": 1, "b": [1, 2.5, "x", True], "c": {"d": {}}, "e": [], "big": float(2**70)}


def test_to_lua_failure_and_bytes(lua: Any) -> None:
    err = to_lua(lua, Failure("bad", "Invalid", True, {"k": [1]}))
    check = lua.eval(
        "function(e) return errors.is(e, errors.INVALID), e:message(), e:retryable(), e:details().k[1] end"
    )
    assert check(err) == (True, "bad", True, 1)
    raw = to_lua(lua, b"\x00\xff")
    assert lua.eval("function(s) return #s, s:byte(2) end")(raw) == (2, 255)
    with pytest.raises(EncodeError):
        to_lua(lua, {"x": object()})


def test_to_lua_scalars(lua: Any) -> None:
    assert to_lua(lua, None) is None
    assert to_lua(lua, "s") == "s"
    assert to_lua(lua, 3) == 3
    assert to_lua(lua, -(2**64)) == float(-(2**64))


# ---------------------------------------------------------------------------------------------
# error helpers used by the runtime
# ---------------------------------------------------------------------------------------------


def test_failure_helpers(lua: Any) -> None:
    err = make_error(lua, Failure("m", "Conflict", True, {"a": 1}))
    assert failure_of(err) == Failure("m", "Conflict", True, {"a": 1}, "")
    assert failure_of(lua.eval("{}")) is None
    assert failure_of("text") is None

    raised = failure_from_raise("user.lua:3: boom")
    assert (raised.kind, raised.retryable, raised.message) == ("Internal", None, "user.lua:3: boom")
    assert failure_from_raise(err).kind == "Conflict"
    assert failure_from_raise("x", "user.lua:9").stack == "user.lua:9"
    assert failure_from_raise(lua.eval("{code = 1}")).message == '{"code":1}'
    assert failure_from_raise(None).message == "nil"
    assert failure_from_raise(ValueError("py")).kind == "Internal"

    returned = failure_from_return("not found")
    assert returned is not None and (returned.kind, returned.retryable) == ("Internal", False)
    assert failure_from_return(None) is None and failure_from_return(False) is None
    assert failure_from_return(err) == failure_of(err)


def test_raised_error_object_survives_pcall(lua: Any) -> None:
    same = lua.execute("local e = errors.new('x'); local ok, got = pcall(error, e); return rawequal(e, got), ok")
    assert same == (True, False)


def test_state_dies_with_runtime() -> None:
    def build() -> weakref.ref[Any]:
        lua = make_lua()
        to_python(to_lua(lua, {"a": [1, {}]}))
        return weakref.ref(state_of(lua))

    refs = [build() for _ in range(5)]
    gc.collect()
    assert all(r() is None for r in refs)


def test_lone_surrogates_are_replaced(lua: Any) -> None:
    t = to_lua(lua, {"s": "a\ud800b", "l": ["\udfff"]})
    assert to_python(t) == {"s": "a\ufffdb", "l": ["\ufffd"]}
    assert to_lua(lua, "x\ud800") == "x\ufffd"
