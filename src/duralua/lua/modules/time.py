"""The ``time`` module (spec lua-modules.md §7) without the blocking calls.

``sleep``/``after``/``timer``/``ticker`` are added by the scheduler layer; it builds fire times
with :func:`make_time` and reads Duration arguments with :func:`duration_ns_of`.

Time values are userdata-looking tables (class ``time.Time``) holding Unix seconds and
nanoseconds plus a Location; ``==``, ``<`` and ``<=`` compare instants. Durations (class
``time.Duration``) hold integer nanoseconds; time functions read bare numbers as nanoseconds
and strings in Go syntax. Formatting and parsing use Go reference layouts.

``Local``: inside workflows (``ctx.deterministic``) the local zone is UTC (named "Local"), so
formatting is identical on every worker; elsewhere it is the host's zone. ``time.date(...)``
without a location uses UTC.
"""

from __future__ import annotations

from typing import Any

from ...durations import DurationError, format_go, parse_go
from ...errors import INVALID, NOT_FOUND
from ..context import HostContext
from ..convert import LuaState, is_lua_table, state_for_value, state_of
from . import _gotime as gt
from ._support import error_value, host_of, lua_source, pyfn


def _setup(st: LuaState, deterministic: bool) -> Any:
    lua = st.lua

    def parse_duration(text: Any) -> Any:
        try:
            return parse_go(str(text)), None
        except DurationError as exc:
            return None, str(exc)

    def parse(layout: str, value: str, dk: str, dn: str, do: int, lk: str, ln: str, lo: int) -> Any:
        try:
            p = gt.parse_time(layout, value, (dk, dn, int(do)), (lk, ln, int(lo)))
        except gt.GoParseError as exc:
            return None, error_value(st, INVALID, str(exc))
        return p.unix, p.nsec, p.zone, p.name, p.offset

    def check_zone(name: str) -> Any:
        try:
            gt.load_zone(name)
        except LookupError:
            return False, NOT_FOUND, f"unknown time zone {name}"
        except ValueError as exc:
            return False, INVALID, f"invalid time zone name {name!r}: {exc}"
        return True, None, None

    def zone(k: str, n: str, o: Any, sec: Any) -> Any:
        return gt.zone_offset(k, n, int(o), int(sec))

    def unlocal(k: str, n: str, o: Any, sec: Any) -> Any:
        return gt.to_unix((k, n, int(o)), int(sec))

    def format_time(layout: Any, sec: Any, n: Any, off: Any, ab: Any) -> Any:
        return gt.format_time(str(layout), int(sec), int(n), int(off), ab)

    def round_time(sec: Any, n: Any, d: Any, mode: Any) -> Any:
        return gt.round_time(int(sec), int(n), int(d), str(mode))

    # Every callback goes through pyfn: Time fields are plain table fields a run can overwrite
    # (t._s = "x"), and a bad value must end as a Lua error at the caller, not a Python one.
    py = lua.table_from(
        {
            "zone": pyfn(st, zone),
            "unlocal": pyfn(st, unlocal),
            "format": pyfn(st, format_time),
            "parse": pyfn(st, parse),
            "parse_duration": pyfn(st, parse_duration),
            "duration_string": pyfn(st, lambda ns: format_go(int(ns))),
            "round": pyfn(st, round_time),
            "check_zone": pyfn(st, check_zone),
            "error": pyfn(st, lambda kind, msg: error_value(st, str(kind), str(msg), False)),
        }
    )
    local_kind = "utc" if deterministic else "local"
    cls = st.execute(lua_source("time.lua"), st.core, py, local_kind, "Local", name="=duralua.time")
    for key, layout in gt.LAYOUTS.items():
        cls.M[key] = layout
    return cls


def _classes(st: LuaState, deterministic: bool | None = None) -> Any:
    if deterministic is None:
        current = st.cache.get("time:current")
        if current is not None:
            return current
        deterministic = True
    cls = st.cached(f"time:{deterministic}", lambda: _setup(st, deterministic))
    st.cache["time:current"] = cls
    return cls


def install(lua: Any, ctx: HostContext) -> Any:
    st = state_of(lua)
    st.host = ctx
    deterministic = bool(ctx.deterministic)
    cls = _classes(st, deterministic)

    def template() -> Any:
        mod = st.copy(cls.M)
        mod["now"] = cls.make_now(pyfn(st, lambda: host_of(st).now_ns()))
        return mod

    return st.copy(st.cached(f"time.module:{deterministic}", template))


def time_classes(lua: Any) -> Any:
    """The per-state time helpers (Lua table: ``M``, ``from_ns``, ``new_dur``, ``to_ns``...)."""
    return _classes(state_of(lua))


def make_time(lua: Any, unix_ns: int) -> Any:
    """A Lua Time (in the Local zone of the installed ``time`` module) for Unix nanoseconds."""
    return _classes(state_of(lua)).from_ns(int(unix_ns))


def make_duration(lua: Any, ns: int) -> Any:
    """A Lua Duration of ``ns`` nanoseconds."""
    return _classes(state_of(lua)).new_dur(int(ns))


def duration_ns_of(value: Any) -> int | None:
    """Nanoseconds of a Lua Duration object; ``None`` for any other value."""
    if not is_lua_table(value) or value["__userdata"] != "time.Duration":
        return None
    st = state_for_value(value)
    if st.core.classof(value) != "time.Duration":
        return None
    return int(value["_ns"])


def time_of(value: Any) -> tuple[int, int] | None:
    """(Unix seconds, nanoseconds) of a Lua Time object; ``None`` for any other value."""
    if not is_lua_table(value) or value["__userdata"] != "time.Time":
        return None
    st = state_for_value(value)
    if st.core.classof(value) != "time.Time":
        return None
    return int(value["_s"]), int(value["_n"])
