"""Cron schedules with Temporal's semantics (robfig/cron ``ParseStandard`` + the server's backoff).

Accepted: five fields (minute hour day-of-month month day-of-week), the descriptors
``@yearly``/``@annually``/``@monthly``/``@weekly``/``@daily``/``@midnight``/``@hourly``,
``@every <Go duration>``, and an optional ``CRON_TZ=<zone>`` (or ``TZ=<zone>``) prefix; times
are UTC otherwise. A six-field spec (with seconds) is refused, as the Temporal server refuses it.

The next run is placed as the server places it (``backoff.GetBackoffForNextSchedule``): the
first schedule time after the run's start that is not before its close, and the wait is
rounded *up* to whole seconds. Both engines share this module, so a schedule means the same
thing on each.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..durations import SECOND, DurationError, parse_go

_DESCRIPTORS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


class CronError(ValueError):
    """Not a cron schedule Temporal accepts; the message says why."""


@dataclass(frozen=True)
class CronSchedule:
    text: str
    fields: str = ""  # five-field expression (empty for @every)
    every_ns: int = 0  # constant delay of ``@every``
    zone: tzinfo = UTC

    def next_after(self, ns: int) -> int:
        """The first schedule time strictly after ``ns`` (Unix nanoseconds)."""
        if self.every_ns:
            # robfig's ConstantDelaySchedule: truncate to the second, then add the delay.
            return (ns // SECOND) * SECOND + self.every_ns
        start = datetime.fromtimestamp(ns / 1e9, self.zone)
        from croniter import croniter  # with dateutil ~3.5 MB resident: loaded by the first cron run

        nxt = croniter(self.fields, start).get_next(datetime)
        return round(nxt.timestamp()) * SECOND


def parse(text: str) -> CronSchedule:
    if not isinstance(text, str) or not text.strip():
        raise CronError("empty cron schedule")
    spec = text.strip()
    zone: tzinfo = UTC
    if spec.startswith(("CRON_TZ=", "TZ=")):
        head, _, spec = spec.partition(" ")
        name = head.split("=", 1)[1]
        try:
            zone = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise CronError(f"unknown time zone {name!r}") from None
        spec = spec.strip()
    if spec.startswith("@every"):
        try:
            delay = parse_go(spec[len("@every") :].strip())
        except DurationError as exc:
            raise CronError(f"@every needs a duration: {exc}") from None
        if delay <= 0:
            raise CronError("@every needs a positive duration")
        delay = max(delay, SECOND)
        return CronSchedule(text, every_ns=delay - delay % SECOND, zone=zone)
    fields = _DESCRIPTORS.get(spec.lower(), spec)
    if fields.startswith("@"):
        raise CronError(f"unknown descriptor {spec!r}")
    if len(fields.split()) != 5:
        raise CronError(f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(fields.split())}")
    from croniter import croniter

    if not croniter.is_valid(fields):
        raise CronError(f"{spec!r} is not a valid cron expression")
    return CronSchedule(text, fields=fields, zone=zone)


def backoff_ns(schedule: CronSchedule, start_ns: int, close_ns: int) -> int:
    """How long after ``close_ns`` the next run of a chain whose current run started at
    ``start_ns`` begins (whole seconds, as the Temporal server computes it)."""
    nxt = schedule.next_after(start_ns)
    while nxt < close_ns:
        nxt = schedule.next_after(nxt)
    return math.ceil((nxt - close_ns) / SECOND) * SECOND
