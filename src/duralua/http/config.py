"""Settings of one ``http.service`` (address, timeouts, limits) and of a router's ``cors``.

Fields (registry.md §11, plus duralua's ``max_body``):

* ``addr``: ``":8080"`` (all interfaces), ``"127.0.0.1:8080"``, ``"[::1]:8080"``, port 0 = any
  free port (the address printed at start says which).
* ``timeouts.read`` (default 30s): the request head and body must arrive within it (else 408,
  or the connection is closed if the head is incomplete); ``timeouts.write`` (default none):
  the handler must answer within it (else 503); ``timeouts.idle`` (default 60s): keep-alive.
* ``max_body`` (default 32 MiB; bytes or ``"10MB"``-style, binary units): larger bodies get 413.
* ``host.buffer_size`` (default 1024): requests in flight beyond it get 503.
* ``lifecycle.auto_start: false`` leaves the service stopped; ``lifecycle.stop_timeout``
  (default 10s) bounds the graceful shutdown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..durations import SECOND, DurationError, parse_option
from ..errors import ConfigError
from ..registry.env import resolve_env
from ..registry.model import Entry

DEFAULT_READ_S = 30.0
DEFAULT_IDLE_S = 60.0
DEFAULT_MAX_BODY = 32 * 1024 * 1024
DEFAULT_BUFFER = 1024

_SIZE = re.compile(r"\s*(\d+)\s*([KMG]i?B?|B)?\s*", re.IGNORECASE)
_UNIT = {"": 1, "B": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


@dataclass(frozen=True)
class ServiceConfig:
    id: str
    addr: str
    host: str
    port: int
    read_timeout_s: float | None = DEFAULT_READ_S
    write_timeout_s: float | None = None
    idle_timeout_s: float = DEFAULT_IDLE_S
    max_body: int = DEFAULT_MAX_BODY
    max_in_flight: int = DEFAULT_BUFFER
    auto_start: bool = True
    stop_timeout_s: float = 10.0


def parse_addr(addr: Any) -> tuple[str, int]:
    """``":8080"`` -> ("0.0.0.0", 8080); raises ValueError with a one-line reason."""
    if not isinstance(addr, str) or not addr.strip():
        raise ValueError('addr must be a listen address such as ":8080" or "127.0.0.1:8080"')
    text = addr.strip()
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
        if not sep:
            raise ValueError(f'addr {addr!r}: an IPv6 address needs a port, e.g. "[::1]:8080"')
    else:
        host, sep, port = text.rpartition(":")
        if not sep:
            raise ValueError(f'addr {addr!r} has no port (use e.g. ":8080" or "127.0.0.1:8080")')
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"addr {addr!r}: port {port!r} is not a number from 0 to 65535")
    return host or "0.0.0.0", int(port)


def parse_size(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f'{what} must be a size in bytes or e.g. "10MB", got a boolean')
    if isinstance(value, int):
        if value <= 0:
            raise ValueError(f"{what} must be positive, got {value}")
        return value
    if isinstance(value, str):
        m = _SIZE.fullmatch(value)
        if m and int(m.group(1)) > 0:
            unit = (m.group(2) or "").upper()[:1]
            return int(m.group(1)) * _UNIT[unit if unit != "B" else ""]
    raise ValueError(f'{what} must be a positive size in bytes or e.g. "10MB", "512KiB", got {value!r}')


def _seconds(block: dict[str, Any], key: str, default: float | None, what: str) -> float | None:
    if key not in block or block[key] in (None, ""):
        return default
    try:
        ns = parse_option(block[key])
    except DurationError as exc:
        raise ValueError(f"{what}: {exc}") from None
    if ns < 0:
        raise ValueError(f"{what} must not be negative")
    return ns / SECOND if ns else None


def parse_service_config(entry: Entry) -> ServiceConfig:
    """Raises :class:`ConfigError` naming the entry and field."""
    data = entry.data
    current = "addr"
    addr = data.get("addr")
    try:
        if isinstance(addr, str):
            addr = resolve_env(addr)  # the registry resolves placeholders only in Temporal entries
        host, port = parse_addr(addr)
        current = "timeouts"
        timeouts = data.get("timeouts") or {}
        if not isinstance(timeouts, dict):
            raise ValueError("timeouts must be a mapping of read/write/idle durations")
        read = _seconds(timeouts, "read", DEFAULT_READ_S, "timeouts.read")
        write = _seconds(timeouts, "write", None, "timeouts.write")
        idle = _seconds(timeouts, "idle", DEFAULT_IDLE_S, "timeouts.idle")
        current = "max_body"
        max_body = parse_size(data["max_body"], "max_body") if data.get("max_body") is not None else DEFAULT_MAX_BODY
        current = "host"
        hostcfg = data.get("host") or {}
        buffer = hostcfg.get("buffer_size", DEFAULT_BUFFER) if isinstance(hostcfg, dict) else DEFAULT_BUFFER
        if not isinstance(buffer, int) or isinstance(buffer, bool) or buffer < 1:
            raise ValueError(f"host.buffer_size must be a positive integer, got {buffer!r}")
        current = "lifecycle"
        lifecycle = data.get("lifecycle") or {}
        auto_start = not (isinstance(lifecycle, dict) and lifecycle.get("auto_start") is False)
        stop_s = entry.lifecycle.stop_timeout_ns / SECOND
    except ValueError as exc:
        raise ConfigError(str(exc), location=entry.location_of(current)) from None
    except ConfigError as exc:
        raise ConfigError(f"{current}: {exc.message}", location=entry.location_of(current), hint=exc.hint) from None
    return ServiceConfig(
        id=entry.id, addr=str(addr), host=host, port=port, read_timeout_s=read, write_timeout_s=write,
        idle_timeout_s=idle if idle is not None else DEFAULT_IDLE_S, max_body=max_body, max_in_flight=buffer,
        auto_start=auto_start, stop_timeout_s=stop_s,
    )  # fmt: skip


# -- cors ---------------------------------------------------------------------------------------

_CORS_KEYS = {
    "cors.allow.origins", "cors.allow.methods", "cors.allow.headers", "cors.allow.credentials",
    "cors.expose.headers", "cors.max.age",
}  # fmt: skip


@dataclass(frozen=True)
class CorsConfig:
    allow_origins: list[str] = field(default_factory=lambda: ["*"])
    allow_methods: list[str] = field(
        default_factory=lambda: ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    )
    allow_headers: list[str] = field(default_factory=lambda: ["*"])
    allow_credentials: bool = False
    expose_headers: list[str] = field(default_factory=list)
    max_age: int = 600


def _csv(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def parse_cors(options: dict[str, str]) -> tuple[CorsConfig, list[str]]:
    """The ``cors.*`` router options -> settings and warnings (unknown cors keys).
    Raises ValueError for bad values."""
    warnings = [f"router option {k!r} is not a cors option duralua knows (ignored)"
                for k in options if k.startswith("cors.") and k not in _CORS_KEYS]  # fmt: skip
    base = CorsConfig()
    cred = options.get("cors.allow.credentials", "false").strip().lower()
    if cred not in ("true", "false"):
        raise ValueError(f"cors.allow.credentials must be true or false, got {cred!r}")
    max_age = options.get("cors.max.age")
    age = base.max_age
    if max_age is not None:
        text = max_age.strip()
        try:
            age = int(text) if text.isdigit() else parse_option(text) // SECOND
        except DurationError as exc:
            raise ValueError(f"cors.max.age: {exc}") from None
    methods = _csv(options["cors.allow.methods"]) if "cors.allow.methods" in options else base.allow_methods
    return CorsConfig(
        allow_origins=_csv(options["cors.allow.origins"]) if "cors.allow.origins" in options else base.allow_origins,
        allow_methods=[m.upper() for m in methods],
        allow_headers=_csv(options["cors.allow.headers"]) if "cors.allow.headers" in options else base.allow_headers,
        allow_credentials=cred == "true",
        expose_headers=_csv(options.get("cors.expose.headers", "")),
        max_age=age,
    ), warnings
