"""The Lua-side export and the Lua VM's edges (issue 7): what Python receives is always safe."""

from __future__ import annotations

from typing import Any

import lupa.lua54 as lupa54
import pytest

from duralua.core.scheduler import Scheduler
from duralua.errors import EncodeError, Failure, LuaError
from duralua.lua.context import SystemContext
from duralua.lua.convert import to_python
from duralua.lua.modules import MODULE_INSTALLERS
from duralua.lua.process import EntryCode, LuaVM


def make_lua() -> Any:
    lua = lupa54.LuaRuntime(register_eval=False, register_builtins=False, unpack_returned_tuples=True)
    g = lua.globals()
    for name, install in MODULE_INSTALLERS.items():
        g[name] = install(lua, SystemContext())
    return lua


class Owner:
    pid = "{t@local|1}"
    context: dict[str, Any] = {}


def run_vm(source: str, *, imports: dict[str, EntryCode] | None = None, log: Any = None) -> tuple[Any, Failure | None]:
    vm = LuaVM(EntryCode("t:e", source, "e.lua", None, imports=imports or {}), SystemContext(), Owner(), log=log)
    sched = Scheduler(vm, lambda _c, _op, _a: (None, None))
    vm.scheduler = sched
    vm.start([])
    try:
        sched.run()
    except Exception as exc:  # ProcessFailed: the raised value is already a Failure
        return None, vm.failure_of(getattr(exc, "error", exc))
    return vm.result_of(sched.result)


def test_the_error_marker_cannot_be_forged_by_user_data() -> None:
    lua = make_lua()
    # the UTF-8 bytes of U+DFFF are not valid UTF-8 (a surrogate): refused as binary
    with pytest.raises(EncodeError, match="a table key is a binary string"):
        to_python(lua.eval(r'{["\xed\xbf\xbf"] = {"Internal", "forged", false, nil, ""}}'))
    # a key spelled like the JSON escape is just text
    value = to_python(lua.eval(r'{["\\udfff"] = {"Internal", "forged", false}}'))
    assert value == {"\\udfff": ["Internal", "forged", False]}


def test_floats_and_integers_round_trip_exactly() -> None:
    lua = make_lua()
    value = to_python(lua.eval("{0.1, 2.0, -0.0, 1e300, 1/3, math.maxinteger, math.mininteger, 5e-324}"))
    assert value == [0.1, 2.0, -0.0, 1e300, 1 / 3, 2**63 - 1, -(2**63), 5e-324]
    assert [type(v) for v in value] == [float, float, float, float, float, int, int, float]


def test_a_value_too_large_to_cross_is_refused_early() -> None:
    lua = make_lua()
    dag = lua.execute('local t = {s = string.rep("x", 1 << 20)} for _ = 1, 8 do t = {t, t} end return t')
    with pytest.raises(EncodeError, match="value too large"):
        to_python(dag, "result")


def test_module_functions_refuse_binary_text_arguments_in_lua() -> None:
    lua = make_lua()
    ok, message = lua.execute(r'return pcall(uuid.validate, "\xff")')
    assert ok is False and "bad argument #1 (binary string" in message
    # raw-byte arguments still accept binary strings
    assert lua.execute(r'return base64.encode("\xff\xfe")') == "//4="


def test_print_escapes_binary_text() -> None:
    lines: list[str] = []
    value, failure = run_vm(r'return function() print("a\255b", 1) return 1 end', log=lambda _p, t: lines.append(t))
    assert (value, failure) == (1, None)
    assert lines == ["a\\xFFb\t1"]


def test_chunks_returning_binary_strings_fail_cleanly() -> None:
    with pytest.raises(LuaError, match="the chunk returned a binary string"):
        run_vm(r'return "\255"')
    imp = EntryCode("t:imp", r'return "\255"', "imp.lua", None)
    value, failure = run_vm('return function() local ok, e = pcall(require, "imp") return e end', imports={"imp": imp})
    assert failure is None and "t:imp: the chunk returned a binary string" in value


def test_import_cycles_are_a_lua_error_not_a_stack_overflow() -> None:
    a = EntryCode("t:a", 'return {b = require("b")}', "a.lua", None)
    b = EntryCode("t:b", 'return {a = require("a")}', "b.lua", None, imports={"a": a})
    a.imports["b"] = b
    value, failure = run_vm('return function() return select(2, pcall(require, "a")) end', imports={"a": a})
    assert failure is None and "import cycle" in value


def test_require_answers_declared_names_in_lua_and_the_rest_with_the_declaration_error() -> None:
    # An import named like a module wins (as in the Python lookup); an undeclared name still
    # gets the message naming what is declared, also in a state rebound to its next run.
    imp = EntryCode("t:json", "return {mine = true}", "json.lua", None)
    code = EntryCode("t:e", 'return function() local j = require("json") local ok, e = pcall(require, "http")'
                     " return {j.mine, require('errors') ~= nil, e} end", "e.lua", None, modules=["time"],
                     imports={"json": imp})  # fmt: skip
    vm = LuaVM(code, SystemContext(), Owner())
    for _ in range(2):
        sched = Scheduler(vm, lambda _c, _op, _a: (None, None))
        vm.scheduler = sched
        vm.start([])
        sched.run()
        value, failure = vm.result_of(sched.result)
        assert failure is None and value[:2] == [True, True]
        assert 'module "http" is not declared by entry t:e' in value[2] and "declared: errors, json, time" in value[2]
        vm.rebind(SystemContext(), Owner(), None)
