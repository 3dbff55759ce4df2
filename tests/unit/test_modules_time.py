"""The pure part of the ``time`` module (spec lua-modules.md §7), checked against Go's outputs."""

from __future__ import annotations

import calendar
import os
from collections.abc import Callable
from typing import Any

import lupa.lua54 as lupa54
import pytest

from duralua.lua.modules import MODULE_INSTALLERS
from duralua.lua.modules.time import duration_ns_of, make_duration, make_time, time_of

NOW_NS = 1_700_000_000_123_456_789  # 2023-11-14T22:13:20.123456789Z


def _refuse(obj: Any, name: Any, is_setting: bool) -> Any:
    raise AttributeError(name)


class FakeContext:
    def __init__(self, deterministic: bool = True) -> None:
        self.deterministic = deterministic

    def now_ns(self) -> int:
        return NOW_NS

    def monotonic_s(self) -> float:
        return 1.5

    def random_bytes(self, n: int) -> bytes:
        return os.urandom(n)

    def side_effect(self, name: str, produce: Callable[[], Any]) -> Any:
        return produce()


@pytest.fixture
def lua() -> Any:
    lua = lupa54.LuaRuntime(
        register_eval=False, register_builtins=False, unpack_returned_tuples=True, attribute_filter=_refuse
    )
    g = lua.globals()
    for name, inst in MODULE_INSTALLERS.items():
        g[name] = inst(lua, FakeContext())
    return lua


def run(lua: Any, src: str) -> Any:
    return lua.execute(src, name="=user.lua")


def fmt(lua: Any, t: str, layout: str) -> str:
    return str(run(lua, f"local t = {t} return t:format({layout})"))


GO_REF = "time.date(2009, 11, 10, 23, 4, 5, 0, time.utc)"


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        ("time.ANSIC", "Tue Nov 10 23:04:05 2009"),
        ("time.UNIX_DATE", "Tue Nov 10 23:04:05 UTC 2009"),
        ("time.RUBY_DATE", "Tue Nov 10 23:04:05 +0000 2009"),
        ("time.RFC822", "10 Nov 09 23:04 UTC"),
        ("time.RFC822Z", "10 Nov 09 23:04 +0000"),
        ("time.RFC850", "Tuesday, 10-Nov-09 23:04:05 UTC"),
        ("time.RFC1123", "Tue, 10 Nov 2009 23:04:05 UTC"),
        ("time.RFC1123Z", "Tue, 10 Nov 2009 23:04:05 +0000"),
        ("time.RFC3339", "2009-11-10T23:04:05Z"),
        ("time.RFC3339NANO", "2009-11-10T23:04:05Z"),
        ("time.KITCHEN", "11:04PM"),
        ("time.STAMP", "Nov 10 23:04:05"),
        ("time.STAMP_MILLI", "Nov 10 23:04:05.000"),
        ("time.DATE_TIME", "2009-11-10 23:04:05"),
        ("time.DATE_ONLY", "2009-11-10"),
        ("time.TIME_ONLY", "23:04:05"),
        ("time.LAYOUT", "11/10 11:04:05PM '09 +0000"),
    ],
)
def test_go_layout_constants(lua: Any, layout: str, expected: str) -> None:
    assert fmt(lua, GO_REF, layout) == expected


def test_rfc3339_of_epoch(lua: Any) -> None:
    assert run(lua, "return time.unix(0, 0):utc():format(time.RFC3339)") == "1970-01-01T00:00:00Z"
    assert run(lua, "return time.unix(0, 0):format_rfc3339()") == "1970-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        ("time.RFC3339NANO", "2009-11-10T23:04:05.123456Z"),
        ("time.STAMP_MILLI", "Nov 10 23:04:05.123"),
        ("time.STAMP_MICRO", "Nov 10 23:04:05.123456"),
        ("time.STAMP_NANO", "Nov 10 23:04:05.123456000"),
        ("'05.999'", "05.123"),
        ("'05.999999999'", "05.123456"),
        ("'05,000'", "05,123"),
        ("'05.9'", "05.1"),
        ("'05.00000000000'", "05.123456000"),  # more than 9 digits: 9 are printed (as Go does)
        ("'05.0001'", "05.0011"),  # a digit follows: not a fraction; '01' is the month (Go does this)
    ],
)
def test_fractional_seconds(lua: Any, layout: str, expected: str) -> None:
    t = "time.date(2009, 11, 10, 23, 4, 5, 123456000, time.utc)"
    assert fmt(lua, t, layout) == expected


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        ("_2|2|02|1|01|3|03|15|4|04|5|05|pm|PM", " 5|5|05|3|03|7|07|07|8|08|9|09|am|AM"),
        ("Jan January Mon Monday", "Mar March Tue Tuesday"),
        ("__2|002|06|2006", " 65|065|24|2024"),
        ("Janet Monday Mond", "Janet Tuesday Mond"),
    ],
)
def test_layout_tokens(lua: Any, layout: str, expected: str) -> None:
    assert fmt(lua, "time.date(2024, 3, 5, 7, 8, 9, 0, time.utc)", f"'{layout}'") == expected


def test_fixed_zones(lua: Any) -> None:
    t = "time.date(2024, 1, 2, 3, 4, 5, 0, time.fixed_zone('EST', -5 * 3600))"
    assert fmt(lua, t, "time.RFC3339") == "2024-01-02T03:04:05-05:00"
    assert fmt(lua, t, "'MST|-0700|-07|Z07:00|Z0700|-07:00:00|Z07'") == "EST|-0500|-05|-05:00|-0500|-05:00:00|-05"
    assert run(lua, f"return {t}:utc():format(time.RFC3339)") == "2024-01-02T08:04:05Z"
    assert run(lua, f"return {t}:unix()") == calendar.timegm((2024, 1, 2, 8, 4, 5))
    assert run(lua, f"return {t}:zone()") == ("EST", -18000)
    india = "time.date(2024, 1, 2, 3, 4, 5, 0, time.fixed_zone('', 19800))"
    assert fmt(lua, india, "'Z07:00|MST|-0700'") == "+05:30|+0530|+0530"
    assert run(lua, f"return tostring({india})") == "2024-01-02 03:04:05 +0530 +0530"


def test_iana_zones(lua: Any) -> None:
    run(lua, "ny = assert(time.load_location('America/New_York'))")
    assert run(lua, "return tostring(time.date(2024, 7, 4, 12, 0, 0, 0, ny))") == "2024-07-04 12:00:00 -0400 EDT"
    assert run(lua, "return tostring(time.date(2024, 1, 4, 12, 0, 0, 0, ny))") == "2024-01-04 12:00:00 -0500 EST"
    # in the spring-forward gap Go picks the earlier offset's reading
    assert run(lua, "return tostring(time.date(2024, 3, 10, 2, 30, 0, 0, ny))") == "2024-03-10 01:30:00 -0500 EST"
    assert run(lua, "return time.unix(0, 0):in_location(ny):format(time.DATE_TIME)") == "1969-12-31 19:00:00"
    assert run(lua, "return tostring(ny), ny:string()") == ("America/New_York", "America/New_York")
    value, kind = run(lua, "local l, e = time.load_location('Nope/Nowhere') return l, e:kind()")
    assert value is None and kind == "NotFound"
    assert run(lua, "return time.load_location('UTC') == time.utc, time.load_location('Local') == time.localtz")


def test_accessors(lua: Any) -> None:
    t = "time.date(2024, 3, 10, 13, 14, 15, 16, time.utc)"
    assert run(lua, f"local t = {t} return t:date()") == (2024, 3, 10)
    assert run(lua, f"local t = {t} return t:clock()") == (13, 14, 15)
    got = run(
        lua,
        f"local t = {t} return t:year(), t:month(), t:day(), t:hour(), t:minute(), t:second(),"
        " t:nanosecond(), t:weekday(), t:year_day()",
    )
    assert got == (2024, 3, 10, 13, 14, 15, 16, 0, 70)
    assert run(lua, "return time.date(2024, 12, 31):year_day(), time.date(1970, 1, 1):weekday()") == (366, 4)
    assert run(lua, "return time.date(1, 1, 1, 0, 0, 0, 0):is_zero(), time.unix(0, 0):is_zero()") == (
        True,
        False,
    )


def test_unix_nano_is_an_integer(lua: Any) -> None:
    got = run(
        lua,
        "local t = time.unix(1, 5) return tostring(t:unix_nano()), math.type(t:unix_nano()),"
        " math.type(t:unix()), tostring(time.now():unix_nano()), t:unix_milli()",
    )
    assert got == ("1000000005", "integer", "integer", str(NOW_NS), 1000)
    assert run(lua, "return time.unix(1.5, 0):nanosecond(), time.unix(0, 2500000000):unix()") == (
        500000000,
        2,
    )


def test_now_uses_the_context_clock(lua: Any) -> None:
    assert run(lua, "return tostring(time.now())") == "2023-11-14 22:13:20.123456789 +0000 UTC"
    assert run(lua, "return time.now():location():string(), time.now():unix_nano()") == ("Local", NOW_NS)


def test_add_sub_add_date(lua: Any) -> None:
    base = "time.date(2024, 1, 31, 10, 0, 0, 0, time.utc)"
    got = run(
        lua,
        f"local t = {base} return t:add('1h30m'):format(time.TIME_ONLY),"
        " t:add(90 * time.MINUTE):format(time.TIME_ONLY),"
        " t:add(time.parse_duration('-1s')):format(time.TIME_ONLY),"
        " t:add(1.5 * time.SECOND):nanosecond(),"
        " t:add_date(0, 1, 0):format(time.DATE_ONLY),"
        " t:add_date(0, 0, -31):format(time.DATE_ONLY),"
        " time.date(2024, 2, 29):add_date(1, 0, 0):format(time.DATE_ONLY)",
    )
    assert got == ("11:30:00", "11:30:00", "09:59:59", 500000000, "2024-03-02", "2023-12-31", "2025-03-01")
    got = run(
        lua,
        f"local t = {base} local d = t:add('36h'):sub(t) return d:hours(), tostring(d),"
        " t:sub(t:add('2s')):seconds(), t:sub('1m'):format(time.TIME_ONLY)",
    )
    assert got == (36.0, "36h0m0s", -2.0, "09:59:00")


def test_comparisons(lua: Any) -> None:
    got = run(
        lua,
        "local a = time.unix(10, 0) local b = time.unix(10, 0):utc() local c = a:add(1)"
        " return a == b, a ~= c, a < c, a <= b, c > a, a:before(c), c:after(a), a:equal(b), a:compare(c)",
    )
    assert got == (True, True, True, True, True, True, True, True, -1)


def test_round_truncate(lua: Any) -> None:
    t = "time.date(2024, 1, 1, 12, 34, 56, 789000000, time.utc)"
    got = run(
        lua,
        f"local t = {t} local m = time.parse_duration('1m')"
        " return t:truncate(m):format(time.TIME_ONLY), t:round(m):format(time.TIME_ONLY),"
        " t:round(time.parse_duration('1s')):format(time.TIME_ONLY),"
        " t:truncate(time.parse_duration('1h')):format(time.TIME_ONLY)",
    )
    assert got == ("12:34:00", "12:35:00", "12:34:57", "12:00:00")
    # Go rounds relative to the zero time (a Monday): weeks truncate to Mondays
    assert run(lua, "return time.date(2024, 1, 10):truncate(time.parse_duration('168h')):format(time.DATE_ONLY)") == (
        "2024-01-08"
    )


def test_durations(lua: Any) -> None:
    got = run(
        lua,
        "local d = time.parse_duration('1h30m') return d:hours(), d:minutes(), d:seconds(),"
        " d:milliseconds(), math.type(d:milliseconds()), d:microseconds(), d:nanoseconds(), tostring(d)",
    )
    assert got == (1.5, 90.0, 5400.0, 5400000, "integer", 5400000000, 5400000000000, "1h30m0s")
    assert run(lua, "return time.parse_duration('-1.5s'):milliseconds(), tostring(time.parse_duration(1500))") == (
        -1500,
        "1.5µs",
    )
    assert run(lua, "return time.parse_duration('1s') == time.parse_duration('1000ms')") is True
    value, kind = run(lua, "local d, e = time.parse_duration('5d') return d, e:kind()")
    assert value is None and kind == "Invalid"
    consts = run(
        lua,
        "return time.NANOSECOND, time.MICROSECOND, time.MILLISECOND, time.SECOND, time.MINUTE,"
        " time.HOUR, math.type(time.SECOND)",
    )
    assert consts == (1, 1000, 1000000, 10**9, 60 * 10**9, 3600 * 10**9, "integer")
    assert run(lua, "return time.JANUARY, time.DECEMBER, time.SUNDAY, time.SATURDAY") == (1, 12, 0, 6)


def test_parse(lua: Any) -> None:
    got = run(
        lua,
        "local t = time.parse(time.RFC3339, '2024-05-06T07:08:09Z') return t:unix(), tostring(t:location())",
    )
    assert got == (calendar.timegm((2024, 5, 6, 7, 8, 9)), "UTC")
    got = run(
        lua,
        "local t = time.parse(time.RFC3339, '2024-05-06T07:08:09.5+02:00') return tostring(t), t:nanosecond()",
    )
    assert got == ("2024-05-06 07:08:09.5 +0200 +0200", 500000000)
    got = run(lua, "local t = time.parse(time.RFC1123, 'Tue, 10 Nov 2009 23:04:05 PST') return tostring(t)")
    assert got == "2009-11-10 23:04:05 +0000 PST"
    got = run(lua, "local t = time.parse(time.KITCHEN, '3:04PM') return t:year(), t:hour(), t:minute()")
    assert got == (0, 15, 4)
    assert run(lua, "return time.parse('3:04PM', '12:30AM'):hour()") == 0
    got = run(
        lua,
        "local ny = time.load_location('America/New_York')"
        " return time.parse(time.DATE_TIME, '2024-07-04 12:00:00', ny):utc():format(time.DATE_TIME)",
    )
    assert got == "2024-07-04 16:00:00"
    # seconds with a fraction not in the layout are accepted
    assert run(lua, "return time.parse(time.DATE_TIME, '2024-07-04 12:00:00.25'):nanosecond()") == 250000000


@pytest.mark.parametrize(
    ("layout", "value", "message"),
    [
        ("2006-01-02", "2024-02-30", 'parsing time "2024-02-30": day out of range'),
        ("2006-01-02", "x", 'parsing time "x" as "2006-01-02": cannot parse "x" as "2006"'),
        ("2006", "2024x", 'parsing time "2024x": extra text: "x"'),
        ("15:04", "25:00", 'parsing time "25:00": hour out of range'),
        ("Jan 2", "Foo 2", 'parsing time "Foo 2" as "Jan 2": cannot parse "Foo 2" as "Jan"'),
    ],
)
def test_parse_errors(lua: Any, layout: str, value: str, message: str) -> None:
    got = run(lua, f"local t, e = time.parse('{layout}', '{value}') return t, e:kind(), e:message()")
    assert got == (None, "Invalid", message)


@pytest.mark.parametrize(
    "call",
    [
        "time.unix(0, 0):add({})",
        "time.unix(0, 0):add('bogus')",
        "time.date('x', 1, 1)",
        "time.unix(0, 0):format(1)",
        "time.unix(0, 0):before(1)",
        "time.unix(0, 0):in_location('UTC')",
        "time.parse(1, 'x')",
    ],
)
def test_programming_errors_raise(lua: Any, call: str) -> None:
    ok, msg = run(lua, f"return pcall(function() local v = {call} return v end)")
    assert ok is False and msg.startswith("user.lua:1: ")


def test_python_helpers(lua: Any) -> None:
    t = make_time(lua, 1_500_000_000_000_000_001)
    assert lua.eval("function(t) return t:unix(), t:nanosecond(), t:utc():format(time.RFC3339) end")(t) == (
        1_500_000_000,
        1,
        "2017-07-14T02:40:00Z",
    )
    assert time_of(t) == (1_500_000_000, 1)
    d = make_duration(lua, 2_000)
    assert duration_ns_of(d) == 2_000
    assert duration_ns_of(lua.eval("(time.parse_duration('1m'))")) == 60 * 10**9
    assert duration_ns_of("1m") is None and duration_ns_of(5) is None and duration_ns_of(lua.eval("{_ns = 1}")) is None
    assert time_of(lua.eval("{}")) is None


def test_module_tables_are_fresh_and_extensible(lua: Any) -> None:
    a = MODULE_INSTALLERS["time"](lua, FakeContext())
    a["sleep"] = lua.eval("function() return 'slept' end")
    b = MODULE_INSTALLERS["time"](lua, FakeContext())
    assert b["sleep"] is None and a["now"] is not None


def test_local_zone_outside_workflows() -> None:
    lua = lupa54.LuaRuntime(register_eval=False, register_builtins=False, unpack_returned_tuples=True)
    lua.globals().time = MODULE_INSTALLERS["time"](lua, FakeContext(deterministic=False))
    # host zone: whatever it is, local and UTC readings describe the same instant
    got = lua.execute("local t = time.now() return t:unix() == t:utc():unix(), tostring(t:location())")
    assert got == (True, "Local")


@pytest.mark.parametrize(
    ("name", "kind", "message"),
    [
        ("", "Invalid", 'time.load_location: empty time zone name (use "UTC" or "Local")'),
        ("Nope/Nowhere", "NotFound", "unknown time zone Nope/Nowhere"),
        ("../etc/passwd", "Invalid", "invalid time zone name '../etc/passwd': "),
    ],
)
def test_load_location_errors(lua: Any, name: str, kind: str, message: str) -> None:
    value, got_kind, got = run(lua, f"local l, e = time.load_location('{name}') return l, e:kind(), e:message()")
    assert (value, got_kind) == (None, kind) and got.startswith(message), got


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ("time.unix(1e300)", "time.unix: seconds out of range (1e+300)"),
        ("time.unix(0/0)", "time.unix: seconds out of range"),
        ("time.unix(0, 1e300)", "time.unix: nanoseconds: number has no integer representation"),
        ("time.date(1e300, 1, 1)", "time.date: year: number has no integer representation"),
        ("time.date(2024, 1, 1, 0, 0, 0, 1/0)", "time.date: nanosecond: number has no integer representation"),
        ("time.fixed_zone('X', -1e300)", "time.fixed_zone: offset: number has no integer representation"),
        ("time.unix(0):add('9999999999h')", 'time:add: invalid duration "9999999999h": out of range'),
        ("time.load_location(nil)", "time.load_location: name string expected, got nil"),
    ],
)
def test_huge_and_missing_arguments_raise(lua: Any, call: str, message: str) -> None:
    ok, msg = run(lua, f"return pcall(function() local v = {call} return v end)")
    assert ok is False and msg.startswith(f"user.lua:1: {message}"), msg


def test_huge_durations_are_invalid(lua: Any) -> None:
    value, kind, msg = run(lua, "local d, e = time.parse_duration('9999999999999h') return d, e:kind(), e:message()")
    assert (value, kind) == (None, "Invalid") and "out of range (at most about 2562047h)" in msg
    assert run(lua, "return time.parse_duration('2562047h'):hours(), time.parse_duration('-2562047h'):hours()") == (
        2562047.0,
        -2562047.0,
    )
    # fractional seconds still work, and large but representable times stay integers
    assert run(lua, "return time.unix(1.5):unix_nano(), math.type(time.unix(2^40):unix())") == (
        1_500_000_000,
        "integer",
    )
