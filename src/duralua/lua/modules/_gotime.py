"""Go's time layouts, civil calendar arithmetic and zone lookups, in plain Python.

Used by the ``time`` and ``os`` modules. Times are ``(unix_seconds, nanoseconds)`` pairs, so
any year Go can represent in practice works (not limited to ``datetime``'s 1..9999 except for
zone lookups, which clamp). Formatting and parsing follow Go's ``time.Format``/``time.Parse``
(port of ``nextStdChunk``, ``appendFormat`` and ``parse`` from Go's ``time/format.go``).
"""

from __future__ import annotations

import datetime as _dt
import functools
import time as _time
import zoneinfo
from dataclasses import dataclass

SECONDS_PER_DAY = 86400
NANOS = 1_000_000_000

LONG_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
SHORT_MONTHS = tuple(m[:3] for m in LONG_MONTHS)
LONG_DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
SHORT_DAYS = tuple(d[:3] for d in LONG_DAYS)
DAYS_BEFORE = (0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365)

# Go layout constants, by the names the Lua module exports.
LAYOUTS = {
    "LAYOUT": "01/02 03:04:05PM '06 -0700",
    "ANSIC": "Mon Jan _2 15:04:05 2006",
    "UNIX_DATE": "Mon Jan _2 15:04:05 MST 2006",
    "RUBY_DATE": "Mon Jan 02 15:04:05 -0700 2006",
    "RFC822": "02 Jan 06 15:04 MST",
    "RFC822Z": "02 Jan 06 15:04 -0700",
    "RFC850": "Monday, 02-Jan-06 15:04:05 MST",
    "RFC1123": "Mon, 02 Jan 2006 15:04:05 MST",
    "RFC1123Z": "Mon, 02 Jan 2006 15:04:05 -0700",
    "RFC3339": "2006-01-02T15:04:05Z07:00",
    "RFC3339NANO": "2006-01-02T15:04:05.999999999Z07:00",
    "KITCHEN": "3:04PM",
    "STAMP": "Jan _2 15:04:05",
    "STAMP_MILLI": "Jan _2 15:04:05.000",
    "STAMP_MICRO": "Jan _2 15:04:05.000000",
    "STAMP_NANO": "Jan _2 15:04:05.000000000",
    "DATE_TIME": "2006-01-02 15:04:05",
    "DATE_ONLY": "2006-01-02",
    "TIME_ONLY": "15:04:05",
}


# ---------------------------------------------------------------------------------------------
# civil calendar (proleptic Gregorian, days since 1970-01-01)
# ---------------------------------------------------------------------------------------------


def is_leap(y: int) -> bool:
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


def days_in(month: int, year: int) -> int:
    if month == 2 and is_leap(year):
        return 29
    return DAYS_BEFORE[month] - DAYS_BEFORE[month - 1]


def days_from_civil(y: int, m: int, d: int) -> int:
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * ((m + 9) % 12) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(z: int) -> tuple[int, int, int]:
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return y + (m <= 2), m, d


@dataclass(frozen=True)
class Civil:
    year: int
    month: int
    day: int
    hour: int
    minute: int
    second: int
    weekday: int  # 0 = Sunday
    yday: int  # 1..366


def civil(local_seconds: int) -> Civil:
    days, rem = divmod(local_seconds, SECONDS_PER_DAY)
    y, m, d = civil_from_days(days)
    yday = days - days_from_civil(y, 1, 1) + 1
    return Civil(y, m, d, rem // 3600, rem // 60 % 60, rem % 60, (days + 4) % 7, yday)


def local_seconds(y: int, mo: int, d: int, h: int, mi: int, s: int) -> int:
    """Seconds of a (normalised, Go ``Date`` style) wall clock reading, as if it were UTC."""
    m0 = mo - 1
    y += m0 // 12
    mo = m0 % 12 + 1
    return (days_from_civil(y, mo, 1) + d - 1) * SECONDS_PER_DAY + h * 3600 + mi * 60 + s


# ---------------------------------------------------------------------------------------------
# zones: (kind, name, offset) with kind "utc" | "fixed" | "zone" (IANA) | "local" (system)
# ---------------------------------------------------------------------------------------------

Zone = tuple[str, str, int]
UTC_ZONE: Zone = ("utc", "UTC", 0)

_MIN_S = -62135596800 + 2 * SECONDS_PER_DAY  # datetime's range, with margin for offsets
_MAX_S = 253402300799 - 2 * SECONDS_PER_DAY
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)


@functools.lru_cache(maxsize=128)
def load_zone(name: str) -> zoneinfo.ZoneInfo:
    """An IANA zone; raises ``LookupError`` (unknown) or ``ValueError`` (bad name)."""
    try:
        return zoneinfo.ZoneInfo(name)
    except zoneinfo.ZoneInfoNotFoundError:
        raise LookupError(name) from None
    except (ValueError, OSError, TypeError) as exc:
        raise ValueError(str(exc)) from None


def _zone_at(tz: zoneinfo.ZoneInfo, unix_s: int) -> tuple[int, str]:
    s = min(max(unix_s, _MIN_S), _MAX_S)
    dt = (_EPOCH + _dt.timedelta(seconds=s)).astimezone(tz)
    off = dt.utcoffset()
    return (int(off.total_seconds()) if off is not None else 0), (dt.tzname() or "")


def _local_at(unix_s: int) -> tuple[int, str]:
    try:
        tm = _time.localtime(unix_s)
    except (OverflowError, OSError, ValueError):
        tm = _time.localtime(min(max(unix_s, -(2**31)), 2**31 - 1))
    return int(tm.tm_gmtoff or 0), str(tm.tm_zone or "")


def zone_offset(kind: str, name: str, off: int, unix_s: int) -> tuple[int, str]:
    """UTC offset (seconds east) and abbreviation of a zone at an instant."""
    if kind == "utc":
        return 0, "UTC"
    if kind == "fixed":
        return off, name
    if kind == "local":
        return _local_at(unix_s)
    return _zone_at(load_zone(name), unix_s)


def to_unix(zone: Zone, local_s: int) -> int:
    """The instant whose wall clock in ``zone`` reads ``local_s`` (Go's ``Date`` rule)."""
    kind, name, off = zone
    if kind == "utc":
        return local_s
    if kind == "fixed":
        return local_s - off
    off1, _ = zone_offset(kind, name, off, local_s)
    utc = local_s - off1
    off2, _ = zone_offset(kind, name, off, utc)
    return utc if off2 == off1 else local_s - off2


def lookup_name(zone: Zone, abbrev: str, unix_s: int) -> int | None:
    """Offset of ``abbrev`` if ``zone`` uses that abbreviation around ``unix_s``."""
    kind, name, off = zone
    if kind == "utc":
        return 0 if abbrev == "UTC" else None
    if kind == "fixed":
        return off if abbrev == name else None
    for probe in (unix_s, unix_s - 182 * SECONDS_PER_DAY, unix_s + 182 * SECONDS_PER_DAY):
        o, ab = zone_offset(kind, name, off, probe)
        if ab == abbrev:
            o2, ab2 = zone_offset(kind, name, off, unix_s - o)
            return o2 if ab2 == abbrev else o
    return None


# ---------------------------------------------------------------------------------------------
# layouts
# ---------------------------------------------------------------------------------------------

Std = str | tuple[str, int, str]  # name, or ("frac0"|"frac9", digits, separator)

_STD0X = ("ZeroMonth", "ZeroDay", "ZeroHour12", "ZeroMinute", "ZeroSecond", "Year")


def _starts_lower(s: str) -> bool:
    return bool(s) and "a" <= s[0] <= "z"


def next_std_chunk(layout: str) -> tuple[str, Std | None, str]:
    """Port of Go's nextStdChunk: (prefix, std, suffix)."""
    n = len(layout)
    i = 0
    while i < n:
        c = layout[i]
        if c == "J":
            if layout[i : i + 3] == "Jan":
                if layout[i : i + 7] == "January":
                    return layout[:i], "LongMonth", layout[i + 7 :]
                if not _starts_lower(layout[i + 3 :]):
                    return layout[:i], "Month", layout[i + 3 :]
        elif c == "M":
            if layout[i : i + 3] == "Mon":
                if layout[i : i + 6] == "Monday":
                    return layout[:i], "LongWeekDay", layout[i + 6 :]
                if not _starts_lower(layout[i + 3 :]):
                    return layout[:i], "WeekDay", layout[i + 3 :]
            if layout[i : i + 3] == "MST":
                return layout[:i], "TZ", layout[i + 3 :]
        elif c == "0":
            if i + 1 < n and "1" <= layout[i + 1] <= "6":
                return layout[:i], _STD0X[ord(layout[i + 1]) - ord("1")], layout[i + 2 :]
            if layout[i + 1 : i + 3] == "02":
                return layout[:i], "ZeroYearDay", layout[i + 3 :]
        elif c == "1":
            if layout[i + 1 : i + 2] == "5":
                return layout[:i], "Hour", layout[i + 2 :]
            return layout[:i], "NumMonth", layout[i + 1 :]
        elif c == "2":
            if layout[i : i + 4] == "2006":
                return layout[:i], "LongYear", layout[i + 4 :]
            return layout[:i], "Day", layout[i + 1 :]
        elif c == "_":
            if layout[i + 1 : i + 2] == "2":
                if layout[i + 1 : i + 5] == "2006":
                    return layout[: i + 1], "LongYear", layout[i + 5 :]
                return layout[:i], "UnderDay", layout[i + 2 :]
            if layout[i + 1 : i + 3] == "_2":
                return layout[:i], "UnderYearDay", layout[i + 3 :]
        elif c == "3":
            return layout[:i], "Hour12", layout[i + 1 :]
        elif c == "4":
            return layout[:i], "Minute", layout[i + 1 :]
        elif c == "5":
            return layout[:i], "Second", layout[i + 1 :]
        elif c == "P":
            if layout[i + 1 : i + 2] == "M":
                return layout[:i], "PM", layout[i + 2 :]
        elif c == "p":
            if layout[i + 1 : i + 2] == "m":
                return layout[:i], "pm", layout[i + 2 :]
        elif c == "-":
            for tok, std in (
                ("-070000", "NumSecondsTz"),
                ("-07:00:00", "NumColonSecondsTZ"),
                ("-0700", "NumTZ"),
                ("-07:00", "NumColonTZ"),
                ("-07", "NumShortTZ"),
            ):
                if layout[i : i + len(tok)] == tok:
                    return layout[:i], std, layout[i + len(tok) :]
        elif c == "Z":
            for tok, std in (
                ("Z070000", "ISO8601SecondsTZ"),
                ("Z07:00:00", "ISO8601ColonSecondsTZ"),
                ("Z0700", "ISO8601TZ"),
                ("Z07:00", "ISO8601ColonTZ"),
                ("Z07", "ISO8601ShortTZ"),
            ):
                if layout[i : i + len(tok)] == tok:
                    return layout[:i], std, layout[i + len(tok) :]
        elif c in ".," and i + 1 < n and layout[i + 1] in "09":
            ch = layout[i + 1]
            j = i + 1
            while j < n and layout[j] == ch:
                j += 1
            if not _isdigit(layout, j):  # fractional seconds only if no digit follows
                kind = "frac0" if ch == "0" else "frac9"
                return layout[:i], (kind, j - (i + 1), c), layout[j:]
        i += 1
    return layout, None, ""


@functools.lru_cache(maxsize=256)
def compile_layout(layout: str) -> tuple[tuple[str, Std | None], ...]:
    out: list[tuple[str, Std | None]] = []
    rest = layout
    while rest:
        prefix, std, rest = next_std_chunk(rest)
        out.append((prefix, std))
        if std is None:
            break
    return tuple(out)


def _pad(v: int, width: int) -> str:
    if v < 0:
        return "-" + str(-v).zfill(width)
    return str(v).zfill(width)


def _nano(nsec: int, std: tuple[str, int, str]) -> str:
    kind, digits, sep = std
    trim = kind == "frac9"
    if trim and (digits == 0 or nsec == 0):
        return ""
    s = str(nsec).zfill(9)[:digits]
    if trim:
        s = s.rstrip("0")
        return sep + s if s else ""
    return sep + s


def format_time(layout: str, local_s: int, nsec: int, offset: int, abbrev: str) -> str:
    """Format a wall clock reading (``local_s`` = unix seconds + offset) with a Go layout."""
    c = civil(local_s)
    out: list[str] = []
    for prefix, std in compile_layout(layout):
        out.append(prefix)
        if std is None:
            continue
        if isinstance(std, tuple):
            out.append(_nano(nsec, std))
            continue
        out.append(_format_std(std, c, offset, abbrev))
    return "".join(out)


def _format_std(std: str, c: Civil, offset: int, abbrev: str) -> str:
    if std == "Year":
        return _pad(c.year % 100, 2)
    if std == "LongYear":
        return _pad(c.year, 4)
    if std == "Month":
        return SHORT_MONTHS[c.month - 1]
    if std == "LongMonth":
        return LONG_MONTHS[c.month - 1]
    if std == "NumMonth":
        return str(c.month)
    if std == "ZeroMonth":
        return _pad(c.month, 2)
    if std == "WeekDay":
        return SHORT_DAYS[c.weekday]
    if std == "LongWeekDay":
        return LONG_DAYS[c.weekday]
    if std == "Day":
        return str(c.day)
    if std == "UnderDay":
        return f"{c.day:>2}"
    if std == "ZeroDay":
        return _pad(c.day, 2)
    if std == "UnderYearDay":
        return f"{c.yday:>3}"
    if std == "ZeroYearDay":
        return _pad(c.yday, 3)
    if std == "Hour":
        return _pad(c.hour, 2)
    if std in ("Hour12", "ZeroHour12"):
        hr = c.hour % 12 or 12
        return str(hr) if std == "Hour12" else _pad(hr, 2)
    if std == "Minute":
        return str(c.minute)
    if std == "ZeroMinute":
        return _pad(c.minute, 2)
    if std == "Second":
        return str(c.second)
    if std == "ZeroSecond":
        return _pad(c.second, 2)
    if std == "PM":
        return "PM" if c.hour >= 12 else "AM"
    if std == "pm":
        return "pm" if c.hour >= 12 else "am"
    if std == "TZ":
        if abbrev:
            return abbrev
        zone = offset // 60 if offset >= 0 else -((-offset) // 60)
        sign = "-" if zone < 0 else "+"
        zone = abs(zone)
        return f"{sign}{_pad(zone // 60, 2)}{_pad(zone % 60, 2)}"
    # numeric zones (Go decides the sign on the offset in whole minutes)
    if std.startswith("ISO8601") and offset == 0:
        return "Z"
    zone = int(offset / 60)
    absoff = offset
    if zone < 0:
        out = "-"
        zone, absoff = -zone, -offset
    else:
        out = "+"
    out += _pad(zone // 60, 2)
    if std in ("ISO8601ColonTZ", "NumColonTZ", "ISO8601ColonSecondsTZ", "NumColonSecondsTZ"):
        out += ":"
    if std not in ("NumShortTZ", "ISO8601ShortTZ"):
        out += _pad(zone % 60, 2)
    if std in ("ISO8601SecondsTZ", "NumSecondsTz", "ISO8601ColonSecondsTZ", "NumColonSecondsTZ"):
        if std in ("NumColonSecondsTZ", "ISO8601ColonSecondsTZ"):
            out += ":"
        out += _pad(abs(absoff) % 60, 2)
    return out


# ---------------------------------------------------------------------------------------------
# parsing
# ---------------------------------------------------------------------------------------------


class GoParseError(ValueError):
    """A parse failure with Go's message text."""


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _err(layout: str, value: str, layout_elem: str, value_elem: str, message: str = "") -> GoParseError:
    if message:
        return GoParseError(f"parsing time {_quote(value)}{message}")
    return GoParseError(
        f"parsing time {_quote(value)} as {_quote(layout)}: cannot parse {_quote(value_elem)} as {_quote(layout_elem)}"
    )


class _Bad(Exception):
    pass


def _isdigit(s: str, i: int) -> bool:
    return i < len(s) and "0" <= s[i] <= "9"


def _getnum(s: str, fixed: bool) -> tuple[int, str]:
    if not _isdigit(s, 0):
        raise _Bad
    if not _isdigit(s, 1):
        if fixed:
            raise _Bad
        return int(s[0]), s[1:]
    return int(s[:2]), s[2:]


def _getnum3(s: str, fixed: bool) -> tuple[int, str]:
    n = 0
    i = 0
    while i < 3 and _isdigit(s, i):
        n = n * 10 + int(s[i])
        i += 1
    if i == 0 or (fixed and i != 3):
        raise _Bad
    return n, s[i:]


def _cutspace(s: str) -> str:
    return s.lstrip(" ")


def _skip(value: str, prefix: str) -> str:
    while prefix:
        if prefix[0] == " ":
            if value and value[0] != " ":
                raise _Bad
            prefix = _cutspace(prefix)
            value = _cutspace(value)
            continue
        if not value or value[0] != prefix[0]:
            raise _Bad
        prefix = prefix[1:]
        value = value[1:]
    return value


def _lookup(tab: tuple[str, ...], val: str) -> tuple[int, str]:
    for i, v in enumerate(tab):
        if len(val) >= len(v) and val[: len(v)].lower() == v.lower():
            return i, val[len(v) :]
    raise _Bad


def _parse_nanos(value: str, nbytes: int) -> int:
    if value[0] not in ".,":
        raise _Bad
    if nbytes > 10:
        value = value[:10]
        nbytes = 10
    digits = value[1:nbytes]
    if not digits.isdigit():
        raise _Bad
    return int(digits.ljust(9, "0"))


def _parse_signed_offset(value: str) -> int:
    sign = value[0]
    if sign not in "+-":
        return 0
    i = 1
    while i < len(value) and value[i].isdigit():
        i += 1
    if i == 1:
        return 0
    x = int(value[1:i])
    if x > 23:
        return 0
    return i


def _parse_gmt(value: str) -> int:
    value = value[3:]
    if not value:
        return 3
    return 3 + _parse_signed_offset(value)


def _parse_tz(value: str) -> int:
    if len(value) < 3:
        return 0
    if value[:4] in ("ChST", "MeST"):
        return 4
    if value[:3] == "GMT":
        return _parse_gmt(value)
    if value[0] in "+-":
        return _parse_signed_offset(value)
    n = 0
    while n < 6 and n < len(value) and "A" <= value[n] <= "Z":
        n += 1
    if n in (0, 1, 2, 6):
        return 0
    if n == 5:
        return 5 if value[4] == "T" else 0
    if n == 4:
        return 4 if value[3] == "T" or value[:4] == "WITA" else 0
    return 3


@dataclass
class Parsed:
    unix: int
    nsec: int
    zone: str  # "default" | "local" | "utc" | "fixed"
    name: str = ""
    offset: int = 0


def parse_time(layout: str, value: str, default: Zone, local: Zone) -> Parsed:
    """Port of Go's ``time.parse``; raises :class:`GoParseError`."""
    alayout, avalue = layout, value
    am_set = pm_set = False
    year, month, day, yday = 0, -1, -1, -1
    hour = minute = sec = nsec = 0
    z_utc = False
    zone_offset = -1
    zone_name = ""
    while True:
        prefix, std, suffix = next_std_chunk(layout)
        stdstr = layout[len(prefix) : len(layout) - len(suffix)]
        try:
            value = _skip(value, prefix)
        except _Bad:
            raise _err(alayout, avalue, prefix, value) from None
        if std is None:
            if value:
                raise _err(alayout, avalue, "", value, ": extra text: " + _quote(value))
            break
        layout = suffix
        hold = value
        range_err = ""
        try:
            if isinstance(std, tuple):
                kind, digits, _sep = std
                if kind == "frac0":
                    ndigit = 1 + digits
                    if len(value) < ndigit:
                        raise _Bad
                    nsec = _parse_nanos(value, ndigit)
                    value = value[ndigit:]
                else:
                    if len(value) < 2 or value[0] not in ".," or not _isdigit(value, 1):
                        pass
                    else:
                        i = 0
                        while i + 1 < len(value) and _isdigit(value, i + 1):
                            i += 1
                        nsec = _parse_nanos(value, 1 + i)
                        value = value[1 + i :]
            elif std == "Year":
                if len(value) < 2 or not value[:2].isdigit():
                    raise _Bad
                year = int(value[:2])
                value = value[2:]
                year += 1900 if year >= 69 else 2000
            elif std == "LongYear":
                if len(value) < 4 or not value[:4].isdigit():
                    raise _Bad
                year = int(value[:4])
                value = value[4:]
            elif std == "Month":
                month, value = _lookup(SHORT_MONTHS, value)
                month += 1
            elif std == "LongMonth":
                month, value = _lookup(LONG_MONTHS, value)
                month += 1
            elif std in ("NumMonth", "ZeroMonth"):
                month, value = _getnum(value, std == "ZeroMonth")
                if month <= 0 or month > 12:
                    range_err = "month"
            elif std == "WeekDay":
                _, value = _lookup(SHORT_DAYS, value)
            elif std == "LongWeekDay":
                _, value = _lookup(LONG_DAYS, value)
            elif std in ("Day", "UnderDay", "ZeroDay"):
                if std == "UnderDay" and value[:1] == " ":
                    value = value[1:]
                day, value = _getnum(value, std == "ZeroDay")
            elif std in ("UnderYearDay", "ZeroYearDay"):
                for _ in range(2):
                    if std == "UnderYearDay" and value[:1] == " ":
                        value = value[1:]
                yday, value = _getnum3(value, std == "ZeroYearDay")
            elif std == "Hour":
                hour, value = _getnum(value, False)
                if hour >= 24:
                    range_err = "hour"
            elif std in ("Hour12", "ZeroHour12"):
                hour, value = _getnum(value, std == "ZeroHour12")
                if hour > 12:
                    range_err = "hour"
            elif std in ("Minute", "ZeroMinute"):
                minute, value = _getnum(value, std == "ZeroMinute")
                if minute >= 60:
                    range_err = "minute"
            elif std in ("Second", "ZeroSecond"):
                sec, value = _getnum(value, std == "ZeroSecond")
                if sec >= 60:
                    range_err = "second"
                elif len(value) >= 2 and value[0] in ".," and _isdigit(value, 1):
                    _, nstd, _ = next_std_chunk(layout)
                    if not isinstance(nstd, tuple):
                        n = 2
                        while n < len(value) and _isdigit(value, n):
                            n += 1
                        nsec = _parse_nanos(value, n)
                        value = value[n:]
            elif std in ("PM", "pm"):
                if len(value) < 2:
                    raise _Bad
                p, value = value[:2], value[2:]
                if p == ("PM" if std == "PM" else "pm"):
                    pm_set = True
                elif p == ("AM" if std == "PM" else "am"):
                    am_set = True
                else:
                    raise _Bad
            elif std == "TZ":
                if value[:3] == "UTC":
                    z_utc = True
                    value = value[3:]
                else:
                    n = _parse_tz(value)
                    if n == 0:
                        raise _Bad
                    zone_name, value = value[:n], value[n:]
            else:  # numeric / ISO 8601 zones
                if std.startswith("ISO8601") and value[:1] == "Z":
                    value = value[1:]
                    z_utc = True
                else:
                    zone_offset, value, range_err = _parse_num_tz(std, value)
        except _Bad:
            raise _err(alayout, avalue, stdstr, hold) from None
        if range_err:
            raise _err(alayout, avalue, stdstr, value, f": {range_err} out of range")
    if pm_set and hour < 12:
        hour += 12
    elif am_set and hour == 12:
        hour = 0
    if yday >= 0:
        m = d = 0
        if is_leap(year):
            if yday == 31 + 29:
                m, d = 2, 29
            elif yday > 31 + 29:
                yday -= 1
        if yday < 1 or yday > 365:
            raise _err(alayout, avalue, "", value, ": day-of-year out of range")
        if m == 0:
            m = (yday - 1) // 31 + 1
            if DAYS_BEFORE[m] < yday:
                m += 1
            d = yday - DAYS_BEFORE[m - 1]
        if month >= 0 and month != m:
            raise _err(alayout, avalue, "", value, ": day-of-year does not match month")
        month = m
        if day >= 0 and day != d:
            raise _err(alayout, avalue, "", value, ": day-of-year does not match day")
        day = d
    else:
        if month < 0:
            month = 1
        if day < 0:
            day = 1
    if day < 1 or day > days_in(month, year):
        raise _err(alayout, avalue, "", value, ": day out of range")
    wall = local_seconds(year, month, day, hour, minute, sec)
    if z_utc:
        return Parsed(wall, nsec, "utc")
    if zone_offset != -1:
        t = wall - zone_offset
        off, ab = zone_offset_of(local, t)
        if off == zone_offset and (zone_name == "" or ab == zone_name):
            return Parsed(t, nsec, "local")
        return Parsed(t, nsec, "fixed", zone_name, zone_offset)
    if zone_name:
        found = lookup_name(local, zone_name, wall)
        if found is not None:
            return Parsed(wall - found, nsec, "local")
        off = 0
        if len(zone_name) > 3 and zone_name[:3] == "GMT":
            off = int(zone_name[3:]) * 3600
        return Parsed(wall - off, nsec, "fixed", zone_name, off)
    return Parsed(to_unix(default, wall), nsec, "default")


def zone_offset_of(zone: Zone, unix_s: int) -> tuple[int, str]:
    return zone_offset(zone[0], zone[1], zone[2], unix_s)


def _parse_num_tz(std: str, value: str) -> tuple[int, str, str]:
    if std in ("ISO8601ColonTZ", "NumColonTZ"):
        if len(value) < 6 or value[3] != ":":
            raise _Bad
        sign, hh, mm, ss, value = value[0], value[1:3], value[4:6], "00", value[6:]
    elif std in ("NumShortTZ", "ISO8601ShortTZ"):
        if len(value) < 3:
            raise _Bad
        sign, hh, mm, ss, value = value[0], value[1:3], "00", "00", value[3:]
    elif std in ("ISO8601ColonSecondsTZ", "NumColonSecondsTZ"):
        if len(value) < 9 or value[3] != ":" or value[6] != ":":
            raise _Bad
        sign, hh, mm, ss, value = value[0], value[1:3], value[4:6], value[7:9], value[9:]
    elif std in ("ISO8601SecondsTZ", "NumSecondsTz"):
        if len(value) < 7:
            raise _Bad
        sign, hh, mm, ss, value = value[0], value[1:3], value[3:5], value[5:7], value[7:]
    else:
        if len(value) < 5:
            raise _Bad
        sign, hh, mm, ss, value = value[0], value[1:3], value[3:5], "00", value[5:]
    hr, _ = _getnum(hh, True)
    mi, _ = _getnum(mm, True)
    se, _ = _getnum(ss, True)
    range_err = ""
    if hr > 24:
        range_err = "time zone offset hour"
    if mi > 60:
        range_err = "time zone offset minute"
    if se > 60:
        range_err = "time zone offset second"
    off = (hr * 60 + mi) * 60 + se
    if sign == "-":
        off = -off
    elif sign != "+":
        raise _Bad
    return off, value, range_err


# ---------------------------------------------------------------------------------------------
# round / truncate (relative to Go's zero time, January 1, year 1, UTC)
# ---------------------------------------------------------------------------------------------

_ZERO_TO_UNIX = 62135596800  # seconds from 0001-01-01 to 1970-01-01


def round_time(unix_s: int, nsec: int, d: int, mode: str) -> tuple[int, int]:
    if d <= 0:
        return unix_s, nsec
    total = (unix_s + _ZERO_TO_UNIX) * NANOS + nsec
    r = total % d
    total -= r
    if mode == "round" and r + r >= d:
        total += d
    s, n = divmod(total, NANOS)
    return s - _ZERO_TO_UNIX, n
