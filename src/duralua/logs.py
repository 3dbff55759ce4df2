"""duralua's log lines: time, level, text, through Python :mod:`logging`.

Three loggers carry what an operator reads:

* ``duralua.events``: one line per lifecycle event (run started/completed/failed/held, an
  activity attempt failed and when it is retried, engine notices), at a level that says how
  much it matters (a failed run is ERROR, a retry WARNING);
* ``duralua.print``: Lua ``print`` lines, with the PID (or function id) that printed them;
* ``duralua.http.access``: one line per HTTP request served.

When the program has not configured logging (no handler on the root logger), duralua writes
these lines to stderr itself (:func:`ensure_default_handler`), coloured on a terminal and
plain otherwise; once the program configures logging, the lines go to its handlers instead.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import IO, TYPE_CHECKING

from . import lifecycle as lc

if TYPE_CHECKING:
    from .lifecycle import LifecycleEvent, Subscriber

EVENTS = logging.getLogger("duralua.events")
PRINT = logging.getLogger("duralua.print")
ACCESS = logging.getLogger("duralua.http.access")
_ROOT = logging.getLogger("duralua")

LEVELS = {
    lc.RUN_FAILED: logging.ERROR,
    lc.RUN_HELD: logging.WARNING,
    lc.ACTIVITY_RETRY: logging.WARNING,
    lc.ACTIVITY_FAILED: logging.ERROR,
    lc.ENGINE_ERROR: logging.ERROR,
    lc.ENGINE_FATAL: logging.CRITICAL,
}

_COLOURS = {"DEBUG": "2", "INFO": "36", "WARNING": "33", "ERROR": "31", "CRITICAL": "1;31"}


def clock_text(ns: int) -> str:
    """Local wall-clock time of ``ns`` (epoch nanoseconds), to the millisecond."""
    seconds, rest = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds)) + f".{rest // 1_000_000:03d}"


def event_text(event: LifecycleEvent) -> str:
    """The line of an event: :func:`duralua.lifecycle.describe`, plus the wall-clock time of
    the next attempt for a retry (the event's ``retry_in`` alone does not say when)."""
    text = lc.describe(event)
    nxt = event.data.get("next_retry_ns")
    if event.kind == lc.ACTIVITY_RETRY and isinstance(nxt, int):
        text += f" (at {clock_text(nxt)[11:]})"
    return text


def events_subscriber(logger: logging.Logger = EVENTS) -> Subscriber:
    """A lifecycle subscriber that logs one line per event at the event's level."""

    def write(event: LifecycleEvent) -> None:
        if event.kind in lc.QUIET:
            return
        level = LEVELS.get(event.kind, logging.INFO)
        if logger.isEnabledFor(level):
            extra = {"duralua_event": event.kind, "duralua_subject": event.subject, "duralua_run": event.run_id}
            logger.log(level, "%s", event_text(event), extra=extra)

    return write


def log_line(source: str, text: str, *, access: bool = False) -> None:
    """A line from Lua ``print`` (``source`` is the PID or function id) or an HTTP access line."""
    (ACCESS if access else PRINT).info("%s", text, extra={"duralua_source": source})


class LineFormatter(logging.Formatter):
    """``2026-05-01 12:00:00.123 WARNING [source] text``; the level coloured if ``colour``."""

    def __init__(self, *, colour: bool = False) -> None:
        super().__init__()
        self.colour = colour

    def format(self, record: logging.LogRecord) -> str:
        stamp = clock_text(int(record.created * 1_000_000_000))
        level = f"{record.levelname:<7}"
        if self.colour:
            level = f"\x1b[{_COLOURS.get(record.levelname, '0')}m{level}\x1b[0m"
        text = record.getMessage()
        source = getattr(record, "duralua_source", None)
        if source:
            text = f"[{source}] {text}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return f"{stamp} {level} {text}"


def wants_colour(stream: IO[str]) -> bool:
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class LineHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes duralua's lines to stderr while the program has no logging of its own.

    ``duralua.engine`` repeats the engine's notices at INFO (they are also lifecycle events,
    logged by ``duralua.events``): below WARNING they are left out here.
    """

    def __init__(self, stream: IO[str] | None = None, *, fallback: bool = True) -> None:
        super().__init__(stream)
        self.fallback = fallback
        self._stream_arg = stream
        self.setFormatter(LineFormatter(colour=wants_colour(self.stream)))

    def emit(self, record: logging.LogRecord) -> None:
        if self.fallback and logging.getLogger().handlers:
            return  # the program logs: the record reaches its handlers by propagation
        if record.name == "duralua.engine" and record.levelno < logging.WARNING:
            return
        if self._stream_arg is None and self.stream is not sys.stderr:
            # pytest's capsys and redirect_stderr swap sys.stderr: follow it.
            self.setStream(sys.stderr)
        super().emit(record)


def ensure_default_handler(*, fallback: bool = True) -> LineHandler:
    """Install (once) the handler that prints duralua's lines when nothing else does."""
    for handler in _ROOT.handlers:
        if isinstance(handler, LineHandler):
            handler.fallback = handler.fallback and fallback
            return handler
    handler = LineHandler(fallback=fallback)
    _ROOT.addHandler(handler)
    if _ROOT.level == logging.NOTSET and (not fallback or not logging.getLogger().handlers):
        _ROOT.setLevel(logging.INFO)
    return handler


def configure_cli(stream: IO[str] | None = None) -> None:
    """``duralua run``: every line on stderr, with the time and the level."""
    handler = ensure_default_handler(fallback=False)
    if stream is not None:
        handler.setStream(stream)
        handler._stream_arg = stream
    handler.setFormatter(LineFormatter(colour=wants_colour(handler.stream)))
    _ROOT.setLevel(logging.INFO)
    _ROOT.propagate = False


__all__ = [
    "ACCESS",
    "EVENTS",
    "LEVELS",
    "PRINT",
    "LineFormatter",
    "LineHandler",
    "clock_text",
    "configure_cli",
    "ensure_default_handler",
    "event_text",
    "events_subscriber",
    "log_line",
]
