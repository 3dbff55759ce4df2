"""The runtime's answers to the host ops of ``registry``, ``events``, ``logger``, ``env`` and
``io`` (their Lua side: ``lua/modules/runtime_api.py``). Each handler gets the calling
process (:class:`~.proc.Proc`) first; importing this module registers them."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from ..errors import INTERNAL, NOT_FOUND, UNAVAILABLE, Failure
from ..lua.modules._ops import MODULE_OPS

if TYPE_CHECKING:
    from ..registry import Entry, Registry
    from .proc import Proc

Answer = tuple[Any, ...]

# -- registry ---------------------------------------------------------------------------------


def entry_table(entry: Entry) -> dict[str, Any]:
    out: dict[str, Any] = {"id": entry.id, "kind": entry.kind, "meta": dict(entry.meta)}
    if entry.data:
        out["data"] = dict(entry.data)
    return out


def _flatten(filter_: Any) -> dict[str, Any]:
    """Wippy's finder: top-level string keys, then the keys of a nested ``meta`` table."""
    out: dict[str, Any] = {}
    if not isinstance(filter_, dict):
        return out
    for key, value in filter_.items():
        if key == "meta" and isinstance(value, dict):
            continue
        out[str(key)] = value
    nested = filter_.get("meta")
    if isinstance(nested, dict):
        for key, value in nested.items():
            out.setdefault(str(key), value)
    return out


def _glob(pattern: Any, value: str) -> bool:
    if not isinstance(pattern, str):
        return False
    if pattern.count("*") != 1:
        return pattern == value
    head, _, tail = pattern.partition("*")
    return len(value) >= len(head) + len(tail) and value.startswith(head) and value.endswith(tail)


def _criterion(key: str, want: Any) -> Callable[[Entry], bool] | None:
    root = {".kind": "kind", ".ns": "namespace", ".name": "name", ".id": "id"}
    if key in root:
        attr = root[key]
        return lambda e: _glob(want, str(getattr(e, attr)))
    if key.startswith("meta."):
        name = key[5:]

        def equal(e: Entry) -> bool:
            if name not in e.meta:
                return False
            have = e.meta[name]
            if isinstance(want, list):
                return isinstance(have, list) and all(w in have for w in want)
            return type(have) is type(want) and have == want

        return equal
    prefix, name = key[:1], key[6:]
    if key[1:6] != "meta." or prefix not in "~*^$" or not prefix:
        return None
    if prefix == "~":
        try:
            regex = re.compile(str(want))
        except re.error:
            return None
        return lambda e: isinstance(e.meta.get(name), str) and regex.search(e.meta[name]) is not None
    text = str(want)
    if prefix == "*":

        def contains(e: Entry) -> bool:
            have = e.meta.get(name)
            if isinstance(have, str):
                return text in have
            return isinstance(have, list) and any(isinstance(x, str) and text in x for x in have)

        return contains
    if prefix == "^":
        return lambda e: isinstance(e.meta.get(name), str) and e.meta[name].startswith(text)
    return lambda e: isinstance(e.meta.get(name), str) and e.meta[name].endswith(text)


def find_entries(registry: Registry, filter_: Any) -> list[Entry]:
    checks = [c for c in (_criterion(k, v) for k, v in _flatten(filter_).items()) if c is not None]
    return [e for e in registry.entries.values() if all(c(e) for c in checks)]


def _registry(caller: Proc) -> Registry | None:
    return caller.rt.registry


def _registry_get(caller: Proc, entry_id: Any = None, *_: Any) -> Answer:
    reg = _registry(caller)
    entry = reg.entries.get(entry_id) if reg is not None and isinstance(entry_id, str) else None
    if entry is None:
        return (None, Failure(f"entry not found: {entry_id}", NOT_FOUND, False))
    return (entry_table(entry), None)


def _registry_find(caller: Proc, filter_: Any = None, *_: Any) -> Answer:
    reg = _registry(caller)
    if reg is None:
        return (None, Failure("no registry in this runtime", INTERNAL, False))
    return ([entry_table(e) for e in find_entries(reg, filter_)], None)


# -- events -----------------------------------------------------------------------------------


def _events_subscribe(caller: Proc, system: Any = "", kind: Any = "", *_: Any) -> Answer:
    bus = caller.rt.events
    if bus is None:
        return (None, Failure("no event bus in this runtime", UNAVAILABLE, False))
    return (bus.subscribe(caller, str(system), str(kind or "")), None)


def _events_unsubscribe(caller: Proc, topic: Any = "", *_: Any) -> Answer:
    bus = caller.rt.events
    return (bus.unsubscribe(caller, str(topic)) if bus is not None else False, None)


def _events_send(caller: Proc, system: Any, kind: Any, path: Any, data: Any = None, has: Any = False,
                 *_: Any) -> Answer:  # fmt: skip
    bus = caller.rt.events
    if bus is not None:
        bus.send(str(system), str(kind), str(path), data, has is True)
    return (True, None)


# -- logger -----------------------------------------------------------------------------------

LEVELS = {"debug": 10, "info": 20, "warn": 30, "error": 40}


def _logger_log(caller: Proc, level: Any, name: Any, msg: Any, fields: Any = None, line: Any = 0,
                *_: Any) -> Answer:  # fmt: skip
    rt = caller.rt
    wanted = LEVELS.get(str(rt.services.get("log_level", "info")), 20)
    if LEVELS.get(str(level), 20) < wanted or rt.log is None:
        return (None,)
    extra = dict(fields) if isinstance(fields, dict) else {}
    extra["location"] = f"{caller.entry_id}:{line}"
    head = f"{str(level).upper()} {name}: " if name else f"{str(level).upper()} "
    text = head + str(msg) + " " + json.dumps(extra, sort_keys=True, ensure_ascii=False, default=str)
    rt.log(caller.pid, text)
    return (None,)


# -- env --------------------------------------------------------------------------------------


def _namespace(caller: Proc) -> str:
    return caller.entry_id.partition(":")[0]


def _env_get(caller: Proc, name: Any = "", *_: Any) -> Answer:
    store = caller.rt.services.get("env")
    if store is None:
        return (None, Failure(f"environment variable not found: {name}", NOT_FOUND, False))
    return store.get(str(name), _namespace(caller))  # type: ignore[no-any-return]


def _env_set(caller: Proc, name: Any = "", value: Any = "", *_: Any) -> Answer:
    store = caller.rt.services.get("env")
    if store is None:
        return (None, Failure(f"environment variable not found: {name}", NOT_FOUND, False))
    return store.set(str(name), str(value), _namespace(caller))  # type: ignore[no-any-return]


def _env_get_all(caller: Proc, *_: Any) -> Answer:
    store = caller.rt.services.get("env")
    return (store.get_all() if store is not None else {}, None)


# -- io ---------------------------------------------------------------------------------------


@dataclass
class Terminal:
    """The terminal of a command process: its streams and arguments."""

    args: list[str] = field(default_factory=list)
    stdin: IO[bytes] | None = None
    stdout: IO[bytes] | None = None
    stderr: IO[bytes] | None = None
    raw_depth: int = 0

    def __post_init__(self) -> None:
        self.stdin = self.stdin or sys.stdin.buffer
        self.stdout = self.stdout or sys.stdout.buffer
        self.stderr = self.stderr or sys.stderr.buffer


NO_TERMINAL = Failure("no terminal context", UNAVAILABLE, False)


def _terminal(caller: Proc) -> Terminal | None:
    term = caller.terminal
    return term if isinstance(term, Terminal) else None


def _io_write(caller: Proc, stream: Any, text: Any = "", hexed: Any = False, *_: Any) -> Answer:
    term = _terminal(caller)
    if term is None:
        return (None, NO_TERMINAL)
    data = bytes.fromhex(str(text)) if hexed is True else str(text).encode("utf-8")
    out = term.stderr if stream == "stderr" else term.stdout
    assert out is not None
    try:
        out.write(data)
        if stream == "stderr":
            out.flush()
    except OSError as exc:
        return (None, Failure(f"write failed: {exc.strerror or exc}", INTERNAL, False))
    return (True, None)


def _io_flush(caller: Proc, *_: Any) -> Answer:
    term = _terminal(caller)
    if term is None:
        return (None, NO_TERMINAL)
    try:
        assert term.stdout is not None
        term.stdout.flush()
    except OSError as exc:
        return (None, Failure(f"flush failed: {exc.strerror or exc}", INTERNAL, False))
    return (True, None)


def _reader(
    caller: Proc, read: Callable[[IO[bytes]], bytes], line: bool = False
) -> Answer | Callable[[], Awaitable[Answer]]:
    """Read from the caller's terminal off the loop; ``line``: drop the line ending (after the EOF
    check, so an empty line is not EOF)."""
    term = _terminal(caller)
    if term is None:
        return (None, NO_TERMINAL)
    stdin = term.stdin
    assert stdin is not None

    async def run() -> Answer:
        try:
            data = await asyncio.to_thread(read, stdin)
        except OSError as exc:
            return (None, Failure(f"read failed: {exc.strerror or exc}", INTERNAL, False))
        if not data:
            return (None, Failure("EOF", INTERNAL, False))
        if line:
            data = data[:-1] if data.endswith(b"\n") else data
            if data.endswith(b"\r"):
                data = data[:-1]
        try:
            return (data.decode("utf-8"), None)
        except UnicodeDecodeError:
            return (data, None)

    return run


def _io_read(caller: Proc, n: Any = 0, *_: Any) -> Answer | Callable[[], Awaitable[Answer]]:
    size = int(n) if isinstance(n, (int, float)) and n > 0 else 1024
    return _reader(caller, lambda f: f.read1(size) if hasattr(f, "read1") else f.read(size))


def _io_readline(caller: Proc, *_: Any) -> Answer | Callable[[], Awaitable[Answer]]:
    return _reader(caller, lambda f: f.readline(), line=True)


def _io_raw(caller: Proc, enable: Any = True, *_: Any) -> Answer:
    term = _terminal(caller)
    if term is None:
        return (None, NO_TERMINAL)
    term.raw_depth = max(0, term.raw_depth + (1 if enable is True else -1))
    return (True, None)


def _io_args(caller: Proc, *_: Any) -> Answer:
    term = _terminal(caller)
    return (list(term.args) if term is not None else [], None)


MODULE_OPS.update({
    "registry.get": _registry_get,
    "registry.find": _registry_find,
    "events.subscribe": _events_subscribe,
    "events.unsubscribe": _events_unsubscribe,
    "events.send": _events_send,
    "logger.log": _logger_log,
    "env.get": _env_get,
    "env.set": _env_set,
    "env.get_all": _env_get_all,
    "io.write": _io_write,
    "io.flush": _io_flush,
    "io.read": _io_read,
    "io.readline": _io_readline,
    "io.raw": _io_raw,
    "io.args": _io_args,
})  # fmt: skip
