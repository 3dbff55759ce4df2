"""The ``errors`` global (spec lua-modules.md §3)."""

from __future__ import annotations

from typing import Any

import lupa.lua54 as lupa54
import pytest

from duralua.errors import Failure
from duralua.lua.context import SystemContext
from duralua.lua.modules import MODULE_INSTALLERS
from duralua.lua.modules.errors import failure_from_raise, failure_of, install, make_error


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


def test_constants(lua: Any) -> None:
    assert run(lua, "return errors.NOT_FOUND, errors.ALREADY_EXISTS, errors.INVALID, errors.PERMISSION_DENIED") == (
        "NotFound",
        "AlreadyExists",
        "Invalid",
        "PermissionDenied",
    )
    assert run(lua, "return errors.UNAVAILABLE, errors.INTERNAL, errors.CANCELED, errors.CONFLICT") == (
        "Unavailable",
        "Internal",
        "Canceled",
        "Conflict",
    )
    assert run(lua, "return errors.TIMEOUT, errors.RATE_LIMITED, errors.UNKNOWN") == (
        "Timeout",
        "RateLimited",
        "",
    )


def test_new_string_form(lua: Any) -> None:
    got = run(
        lua,
        "local e = errors.new('boom'); return e:kind(), e:message(), e:retryable(), e:details(), tostring(e)",
    )
    assert got == ("", "boom", None, None, "boom")


def test_new_table_form(lua: Any) -> None:
    got = run(
        lua,
        "local e = errors.new{message = 'gone', kind = errors.NOT_FOUND, retryable = false,"
        " details = {id = 3}}"
        " return e:kind(), e:message(), e:retryable(), e:details().id",
    )
    assert got == ("NotFound", "gone", False, 3)


@pytest.mark.parametrize(
    "call",
    [
        "errors.new{kind = 'Invalid'}",
        "errors.new{message = 1}",
        "errors.new{message = 'm', retryable = 'yes'}",
        "errors.new{message = 'm', details = 'x'}",
        "errors.new(42)",
        "errors.new()",
    ],
)
def test_new_raises_on_programming_errors(lua: Any, call: str) -> None:
    ok, msg = run(lua, f"local ok, e = pcall(function() local x = {call} return x end) return ok, e")
    assert ok is False
    assert msg.startswith("user.lua:1: errors.new")


def test_userdata_look(lua: Any) -> None:
    got = run(lua, "local e = errors.new('x'); return getmetatable(e), e.__userdata ~= nil, e.kind ~= nil")
    assert got == (False, True, True)


def test_tostring_and_concat(lua: Any) -> None:
    got = run(
        lua,
        "local e = errors.new('boom'); local e2 = errors.new('bang')"
        " return 'x: ' .. e, e .. ' :y', e .. e2, 1 .. e, tostring(e)",
    )
    assert got == ("x: boom", "boom :y", "boombang", "1boom", "boom")


def test_is(lua: Any) -> None:
    got = run(
        lua,
        "local e = errors.new{message = 'm', kind = errors.INVALID}"
        " return errors.is(e, errors.INVALID), errors.is(e, errors.NOT_FOUND), errors.is('m', 'Invalid'),"
        " errors.is(nil, ''), errors.is({}, ''), errors.is(errors.new('x'), errors.UNKNOWN)",
    )
    assert got == (True, False, False, False, False, True)


def test_wrap_keeps_kind_message_retryable_details(lua: Any) -> None:
    got = run(
        lua,
        "local inner = errors.new{message = 'db down', kind = errors.UNAVAILABLE, retryable = true,"
        " details = {host = 'h'}}"
        " local e = errors.wrap(inner, 'loading user')"
        " local e2 = errors.wrap(e, 'handling request')"
        " return e:kind(), e:message(), e:retryable(), e:details().host, tostring(e), tostring(e2),"
        " e2:message(), errors.is(e2, errors.UNAVAILABLE),"
        " e2:stack():find('handling request: loading user') ~= nil",
    )
    assert got == (
        "Unavailable",
        "db down",
        True,
        "h",
        "loading user: db down",
        "handling request: loading user: db down",
        "db down",
        True,
        True,
    )


def test_wrap_string_and_nil(lua: Any) -> None:
    got = run(
        lua,
        "local e = errors.wrap('plain', 'ctx') return e:kind(), e:message(), tostring(e), errors.wrap(nil, 'x')",
    )
    assert got == ("", "plain", "ctx: plain", None)


def test_call_stack_and_stack(lua: Any) -> None:
    src = "local function make()\n  local e = errors.new('x')\n  return e\nend\nlocal e = make()\nreturn e"
    err = run(lua, src)
    frames = lua.eval(
        "function(e) local cs = errors.call_stack(e) return cs.thread, cs.frames[1].source,"
        " cs.frames[1].line, cs.frames[1].name, cs.frames[2].line end"
    )(err)
    assert frames == ("main", "user.lua", 2, "make", 5)
    assert lua.eval("function(e) return e:stack() end")(err).startswith("user.lua:2: in function 'make'")
    assert lua.eval("errors.call_stack")("not an error") is None


def test_pcall_error_object_identity(lua: Any) -> None:
    got = run(
        lua,
        "local e = errors.new('x') local ok, got = pcall(function() error(e) end) return ok, rawequal(e, got)",
    )
    assert got == (False, True)


def test_make_error_and_failure_of_roundtrip(lua: Any) -> None:
    failure = Failure("card declined", "Invalid", False, {"code": "51", "n": [1, 2]}, "remote stack")
    err = make_error(lua, failure)
    assert lua.eval("function(e) return e:kind(), e:message(), e:retryable(), e:details().n[2], e:stack() end")(
        err
    ) == ("Invalid", "card declined", False, 2, "remote stack")
    assert failure_of(err) == failure
    assert failure_from_raise(err) == failure


def test_install_gives_fresh_tables(lua: Any) -> None:
    a = install(lua, SystemContext())
    b = install(lua, SystemContext())
    a["extra"] = 1
    assert b["extra"] is None
    assert a["new"] is not None and b["INVALID"] == "Invalid"


def test_empty_details_are_no_details(lua: Any) -> None:
    got = run(
        lua,
        "local a = errors.new{message = 'm', details = {}}"
        " local b = errors.new{message = 'm', details = json.decode('{}')}"
        " local c = errors.new{message = 'm', details = {n = 0}}"
        " return a:details(), b:details(), c:details().n, errors.wrap(a, 'ctx'):details()",
    )
    assert got == (None, None, 0, None)
