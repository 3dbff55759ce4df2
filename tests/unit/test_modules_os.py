"""The sandbox's ``os`` global (spec lua-modules.md §14)."""

from __future__ import annotations

import calendar
import os
import time as pytime
from collections.abc import Callable
from typing import Any

import lupa.lua54 as lupa54
import pytest

from duralua.lua.modules import MODULE_INSTALLERS

NOW_NS = 1_700_000_000_987_654_321  # 2023-11-14T22:13:20Z (a Tuesday)


def _refuse(obj: Any, name: Any, is_setting: bool) -> Any:
    raise AttributeError(name)


class FakeContext:
    def __init__(self, deterministic: bool = True) -> None:
        self.deterministic = deterministic

    def now_ns(self) -> int:
        return NOW_NS

    def monotonic_s(self) -> float:
        return 12.25

    def random_bytes(self, n: int) -> bytes:
        return os.urandom(n)

    def side_effect(self, name: str, produce: Callable[[], Any]) -> Any:
        return produce()


@pytest.fixture
def lua() -> Any:
    lua = lupa54.LuaRuntime(
        register_eval=False, register_builtins=False, unpack_returned_tuples=True, attribute_filter=_refuse
    )
    lua.globals().os = MODULE_INSTALLERS["os"](lua, FakeContext())
    return lua


def run(lua: Any, src: str) -> Any:
    return lua.execute(src, name="=user.lua")


def test_only_time_functions(lua: Any) -> None:
    assert run(lua, "return os.platform, os.execute, os.getenv, os.exit, os.remove") == (
        "wippy",
        None,
        None,
        None,
        None,
    )


def test_time_and_clock(lua: Any) -> None:
    assert run(lua, "return os.time(), math.type(os.time())") == (1_700_000_000, "integer")
    assert run(lua, "return os.clock()") == 12.25
    assert run(lua, "return os.difftime(10, 4), math.type(os.difftime(10, 4))") == (6.0, "float")


def test_time_from_table(lua: Any) -> None:
    assert run(lua, "return os.time{year = 2000, month = 1, day = 1}") == 946684800
    assert run(lua, "return os.time{year = 2024, month = 2, day = 29, hour = 13, min = 5, sec = 7}") == (
        calendar.timegm((2024, 2, 29, 13, 5, 7))
    )
    # out-of-range fields normalise like mktime
    assert run(lua, "return os.time{year = 2024, month = 13, day = 32}") == calendar.timegm((2025, 2, 1, 0, 0, 0))
    ok, msg = run(lua, "return pcall(function() local t = os.time{year = 2024, month = 1} return t end)")
    assert ok is False and msg == "user.lua:1: field 'day' missing in date table"


def test_date_formats_match_c_strftime(lua: Any) -> None:
    ts = 1_709_876_543  # 2024-03-08T05:42:23Z
    for spec in "aAbBcCdDeFgGhHIjmMnprRStTuUVwWxXyY%":
        got = run(lua, f"return os.date('!%{spec}', {ts})")
        assert got == pytime.strftime(f"%{spec}", pytime.gmtime(ts)), spec
    for ts2 in (0, 1_704_067_200, 1_735_603_200, 1_609_459_200):  # ISO week edge dates
        for spec in "gGVUWju":
            assert run(lua, f"return os.date('!%{spec}', {ts2})") == pytime.strftime(f"%{spec}", pytime.gmtime(ts2)), (
                ts2,
                spec,
            )


def test_date_defaults_and_tables(lua: Any) -> None:
    assert run(lua, "return os.date()") == "Tue Nov 14 22:13:20 2023"
    assert run(lua, "return os.date('%Y-%m-%d %H:%M:%S %z %Z')") == "2023-11-14 22:13:20 +0000 UTC"
    assert run(lua, "return os.date('!%c', 0)") == "Thu Jan  1 00:00:00 1970"
    got = run(
        lua,
        "local t = os.date('*t', 86400 + 3661) return t.year, t.month, t.day, t.hour, t.min, t.sec,"
        " t.wday, t.yday, t.isdst",
    )
    assert got == (1970, 1, 2, 1, 1, 1, 6, 2, False)
    assert run(lua, "local t = os.date('!*t') return os.time(t)") == 1_700_000_000
    assert run(lua, "return os.date('%Ey|%Od', 0)") == "70|01"


@pytest.mark.parametrize("call", ["os.date('%Q')", "os.date('%E')", "os.date(1, 'x')", "os.time(5)"])
def test_bad_arguments_raise(lua: Any, call: str) -> None:
    ok, msg = run(lua, f"return pcall(function() local v = {call} return v end)")
    assert ok is False and msg.startswith("user.lua:1: ")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ("os.difftime(5)", "bad argument #2 to 'difftime': number expected, got nil"),  # both required, as in 5.4
        ("os.difftime()", "bad argument #1 to 'difftime': number expected, got nil"),
        ("os.date('%Y', 1e20)", "bad argument #2 to 'date' (number has no integer representation)"),
        ("os.date('%Y', 0/0)", "bad argument #2 to 'date' (number has no integer representation)"),
        ("os.date('%Y', math.maxinteger)", "date result cannot be represented in this installation"),
        ("os.date('*t', -2^62)", "date result cannot be represented in this installation"),
        ("os.time({})", "field 'year' missing in date table"),
    ],
)
def test_missing_and_huge_arguments_raise(lua: Any, call: str, message: str) -> None:
    ok, msg = run(lua, f"return pcall(function() local v = {call} return v end)")
    assert ok is False and msg == f"user.lua:1: {message}", msg


def test_empty_format_and_largest_year(lua: Any) -> None:
    assert run(lua, "return os.date('')") == ""
    assert run(lua, "return os.date('!%Y', 67767976233316800)") == "2147483647"


def test_host_local_zone_outside_workflows() -> None:
    lua = lupa54.LuaRuntime(register_eval=False, register_builtins=False, unpack_returned_tuples=True)
    lua.globals().os = MODULE_INSTALLERS["os"](lua, FakeContext(deterministic=False))
    expected = pytime.strftime("%Y-%m-%d %H:%M", pytime.localtime(1_700_000_000))
    assert lua.execute("return os.date('%Y-%m-%d %H:%M', 1700000000)") == expected
