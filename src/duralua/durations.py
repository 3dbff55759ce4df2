"""Go-style durations ("1h30m", "500ms", "1.5h") — the one parser used everywhere.

Lua time functions read bare numbers as nanoseconds; option tables (activity/workflow
options, lifecycle) read bare numbers as milliseconds. Both go through :func:`parse_ns`.
"""

from __future__ import annotations

import re

NANOSECOND = 1
MICROSECOND = 1_000
MILLISECOND = 1_000_000
SECOND = 1_000_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE

_UNITS = {
    "ns": NANOSECOND,
    "us": MICROSECOND,
    "µs": MICROSECOND,
    "μs": MICROSECOND,
    "ms": MILLISECOND,
    "s": SECOND,
    "m": MINUTE,
    "h": HOUR,
}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


class DurationError(ValueError):
    """Not a valid duration; the message says what is accepted."""


def parse_go(text: str) -> int:
    """Parse a Go duration string into integer nanoseconds."""
    s = text.strip()
    if not s:
        raise DurationError('empty duration (use e.g. "30s", "5m", "1h30m")')
    sign = 1
    if s[0] in "+-":
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s == "0":
        return 0
    pos = 0
    total = 0.0
    while pos < len(s):
        m = _PART.match(s, pos)
        if not m:
            raise DurationError(f'invalid duration "{text}" (units: ns, us, ms, s, m, h; e.g. "30s", "1h30m"; no "d")')
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if total >= 2**63:  # as Go's: a Duration is an int64 of nanoseconds
        raise DurationError(f'invalid duration "{text}": out of range (at most about 2562047h)')
    return sign * round(total)


def parse_ns(value: object, *, number_unit: int = NANOSECOND) -> int:
    """Duration from a string (Go syntax) or a number in ``number_unit`` units."""
    if isinstance(value, bool):
        raise DurationError("a boolean is not a duration")
    if isinstance(value, (int, float)):
        return int(value * number_unit)
    if isinstance(value, str):
        return parse_go(value)
    raise DurationError(f'a {type(value).__name__} is not a duration (use a string like "30s")')


def parse_option(value: object) -> int:
    """Duration in an option table: strings in Go syntax, numbers in milliseconds."""
    return parse_ns(value, number_unit=MILLISECOND)


def format_go(ns: int) -> str:
    """Format nanoseconds like Go's Duration.String()."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    n = abs(ns)
    if n < SECOND:
        for unit, size in (("ms", MILLISECOND), ("µs", MICROSECOND)):
            if n >= size:
                return sign + _trim(n / size) + unit
        return f"{sign}{n}ns"
    hours, rest = divmod(n, HOUR)
    minutes, rest = divmod(rest, MINUTE)
    secs = _trim(rest / SECOND)
    out = ""
    if hours:
        out += f"{hours}h"
    if hours or minutes:
        out += f"{minutes}m"
    return sign + out + secs + "s"


def _trim(x: float) -> str:
    text = f"{x:.9f}".rstrip("0").rstrip(".")
    return text or "0"


def humanize_ns(ns: int) -> str:
    """A short human duration for logs and tables: ``850ms``, ``3.2s``, ``4m05s``, ``2h10m``, ``3d4h``."""
    n = abs(ns)
    sign = "-" if ns < 0 else ""
    if n < MILLISECOND:
        return f"{sign}{n / MICROSECOND:.0f}µs" if n >= MICROSECOND else f"{sign}{n}ns"
    if n < SECOND:
        return f"{sign}{n / MILLISECOND:.0f}ms"
    if n < MINUTE:
        return f"{sign}{n / SECOND:.1f}s"
    if n < HOUR:
        m, s = divmod(n // SECOND, 60)
        return f"{sign}{m}m{s:02d}s"
    if n < 24 * HOUR:
        h, m = divmod(n // MINUTE, 60)
        return f"{sign}{h}h{m:02d}m"
    d, h = divmod(n // HOUR, 24)
    return f"{sign}{d}d{h}h"
