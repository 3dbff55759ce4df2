"""The sandbox's ``os`` global (spec lua-modules.md §14): time functions only.

* ``os.time(tbl?)`` -> integer seconds: now from ``ctx.now_ns()`` (the workflow clock in
  workflows); with a table (``year``, ``month``, ``day`` required; ``hour``, ``min``, ``sec``
  default 0; out-of-range fields normalise like C's ``mktime``) in the local zone.
* ``os.date(fmt?, t?)`` -> string, or a table for ``"*t"``/``"!*t"``; a leading ``!`` means
  UTC; default format ``"%c"`` (C locale: ``Thu Jan  1 00:00:00 1970``). Conversions are those
  of C99 ``strftime`` in the C locale; an unknown one raises like Lua does.
* ``os.clock()`` -> float seconds from ``ctx.monotonic_s()`` (not deterministic).
* ``os.difftime(t2, t1)`` -> float (both required); ``os.platform = "wippy"``.

The local zone is UTC inside workflows (``ctx.deterministic``) and the host's zone elsewhere.
"""

from __future__ import annotations

import math
from typing import Any

from ..context import HostContext
from ..convert import LuaState, is_lua_table, state_of
from . import _gotime as gt
from ._support import ArgError, check_int, host_of, new_module, pyfn, type_name

_C_FORMATS = {"c": "%a %b %e %H:%M:%S %Y", "D": "%m/%d/%y", "F": "%Y-%m-%d", "r": "%I:%M:%S %p",
              "R": "%H:%M", "T": "%H:%M:%S", "x": "%m/%d/%y", "X": "%H:%M:%S", "h": "%b"}  # fmt: skip
_E_OK = set("cCxXyY")
_YEARS = (-(2**31) + 1900, 2**31 - 1 + 1900)
_O_OK = set("deHImMSuUVwWy")


def _p(y: int) -> int:
    return (y + y // 4 - y // 100 + y // 400) % 7


def _iso_weeks(y: int) -> int:
    return 53 if _p(y) == 4 or _p(y - 1) == 3 else 52


def iso_week(c: gt.Civil) -> tuple[int, int]:
    iso_wd = (c.weekday + 6) % 7 + 1  # Monday = 1
    week = (c.yday - iso_wd + 10) // 7
    year = c.year
    if week < 1:
        year -= 1
        week = _iso_weeks(year)
    elif week > _iso_weeks(year):
        year += 1
        week = 1
    return year, week


def strftime(fmt: str, c: gt.Civil, offset: int, abbrev: str) -> str:
    out: list[str] = []
    i = 0
    n = len(fmt)
    while i < n:
        ch = fmt[i]
        if ch != "%":
            out.append(ch)
            i += 1
            continue
        spec = fmt[i + 1 : i + 2]
        if spec in ("E", "O"):
            conv = fmt[i + 2 : i + 3]
            if not conv or conv not in (_E_OK if spec == "E" else _O_OK):
                raise ArgError(f"bad argument #1 to 'date' (invalid conversion specifier '%{spec}{conv}')")
            spec = conv
            i += 3
        else:
            i += 2
        out.append(_conv(spec, c, offset, abbrev))
    return "".join(out)


def _conv(spec: str, c: gt.Civil, offset: int, abbrev: str) -> str:
    if spec in _C_FORMATS:
        return strftime(_C_FORMATS[spec], c, offset, abbrev)
    yday0 = c.yday - 1
    match spec:
        case "a":
            return gt.SHORT_DAYS[c.weekday]
        case "A":
            return gt.LONG_DAYS[c.weekday]
        case "b":
            return gt.SHORT_MONTHS[c.month - 1]
        case "B":
            return gt.LONG_MONTHS[c.month - 1]
        case "C":
            return f"{c.year // 100:02d}"
        case "d":
            return f"{c.day:02d}"
        case "e":
            return f"{c.day:2d}"
        case "g":
            return f"{iso_week(c)[0] % 100:02d}"
        case "G":
            return str(iso_week(c)[0])
        case "H":
            return f"{c.hour:02d}"
        case "I":
            return f"{c.hour % 12 or 12:02d}"
        case "j":
            return f"{c.yday:03d}"
        case "m":
            return f"{c.month:02d}"
        case "M":
            return f"{c.minute:02d}"
        case "n":
            return "\n"
        case "p":
            return "PM" if c.hour >= 12 else "AM"
        case "S":
            return f"{c.second:02d}"
        case "t":
            return "\t"
        case "u":
            return str((c.weekday + 6) % 7 + 1)
        case "U":
            return f"{(yday0 + 7 - c.weekday) // 7:02d}"
        case "V":
            return f"{iso_week(c)[1]:02d}"
        case "w":
            return str(c.weekday)
        case "W":
            return f"{(yday0 + 7 - (c.weekday + 6) % 7) // 7:02d}"
        case "y":
            return f"{c.year % 100:02d}"
        case "Y":
            return str(c.year)
        case "z":
            sign = "-" if offset < 0 else "+"
            a = abs(offset) // 60
            return f"{sign}{a // 60:02d}{a % 60:02d}"
        case "Z":
            return abbrev
        case "%":
            return "%"
    raise ArgError(f"bad argument #1 to 'date' (invalid conversion specifier '%{spec}')")


def install(lua: Any, ctx: HostContext) -> Any:
    st = state_of(lua)
    st.host = ctx
    deterministic = bool(ctx.deterministic)
    return new_module(st, f"os:{deterministic}", lambda: _build(st, deterministic))


def _build(st: LuaState, deterministic: bool) -> dict[str, Any]:
    # Built once per Lua state and flavour, shared by every run (see uuid._build).
    local: gt.Zone = gt.UTC_ZONE if deterministic else ("local", "Local", 0)

    def now_s() -> int:
        return int(host_of(st).now_ns()) // 1_000_000_000

    def field(tbl: Any, key: str, default: int | None) -> int:
        v = tbl[key]
        if v is None:
            if default is None:
                raise ArgError(f"field '{key}' missing in date table")
            return default
        if isinstance(v, str):
            try:
                v = int(v)
            except ValueError:
                raise ArgError(f"field '{key}' is not an integer") from None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and not v.is_integer()):
            raise ArgError(f"field '{key}' is not an integer")
        return int(v)

    def os_time(tbl: Any = None, *_: Any) -> Any:
        if tbl is None:
            return now_s()
        if not is_lua_table(tbl):
            raise ArgError(f"bad argument #1 to 'time' (table expected, got {type_name(tbl)})")
        wall = gt.local_seconds(
            field(tbl, "year", None), field(tbl, "month", None), field(tbl, "day", None),
            field(tbl, "hour", 0), field(tbl, "min", 0), field(tbl, "sec", 0),
        )  # fmt: skip
        return gt.to_unix(local, wall)

    def os_date(fmt: Any = None, when: Any = None, *_: Any) -> Any:
        text = "%c" if fmt is None else fmt
        if not isinstance(text, str):
            raise ArgError(f"bad argument #1 to 'date' (string expected, got {type_name(text)})")
        if when is None:
            t = now_s()
        elif isinstance(when, bool) or not isinstance(when, (int, float)):
            raise ArgError(f"bad argument #2 to 'date' (number expected, got {type_name(when)})")
        elif not -(2**63) <= when < 2**63 or (isinstance(when, float) and not math.isfinite(when)):
            raise ArgError("bad argument #2 to 'date' (number has no integer representation)")
        else:
            t = math.floor(when)
        zone = local
        if text.startswith("!"):
            zone = gt.UTC_ZONE
            text = text[1:]
        offset, abbrev = gt.zone_offset_of(zone, t)
        c = gt.civil(t + offset)
        if not _YEARS[0] <= c.year <= _YEARS[1]:  # C's struct tm holds the year in an int
            raise ArgError("date result cannot be represented in this installation")
        if text.startswith("*t"):
            return st.lua.table_from(
                {
                    "year": c.year, "month": c.month, "day": c.day, "hour": c.hour, "min": c.minute,
                    "sec": c.second, "wday": c.weekday + 1, "yday": c.yday, "isdst": False,
                }
            )  # fmt: skip
        return strftime(text, c, offset, abbrev)

    def os_clock(*_: Any) -> Any:
        return float(host_of(st).monotonic_s())

    def number(v: Any, what: str) -> float:
        return v if isinstance(v, float) else check_int(v, what)

    def os_difftime(t2: Any = None, t1: Any = None, *_: Any) -> Any:
        # both required, as in Lua 5.3 and 5.4 (5.2 defaulted t1 to 0)
        a = number(t2, "bad argument #1 to 'difftime'")
        b = number(t1, "bad argument #2 to 'difftime'")
        return float(a - b)

    return {
        "time": pyfn(st, os_time),
        "date": pyfn(st, os_date),
        "clock": pyfn(st, os_clock),
        "difftime": pyfn(st, os_difftime),
        "platform": "wippy",
    }
