"""The ``uuid`` module (spec lua-modules.md §10).

``uuid.v1()``, ``uuid.v4()``, ``uuid.v7()`` take their time from ``ctx.now_ns()`` and their
randomness from ``ctx.random_bytes()``: inside workflows both are deterministic (workflow clock,
PRNG seeded from the run's recorded seed), so the same values come back on replay (they also
pass through ``ctx.side_effect("uuid.v1"|"uuid.v4"|"uuid.v7")`` for engines that record values).
Pure: ``uuid.v3(ns, name)``, ``uuid.v5(ns, name)``,
``uuid.validate(x)`` (standard, ``{braced}``, ``urn:uuid:`` and 32-hex forms, like Go's
``uuid.Validate``), ``uuid.version(id)`` -> integer, ``uuid.variant(id)`` -> ``"RFC4122"`` |
``"Reserved"`` | ``"Microsoft"`` | ``"Future"``, ``uuid.parse(id)`` -> table
``{uuid=, version=, variant=, timestamp=?}`` (``timestamp``: Unix milliseconds, v1/v6/v7 only),
``uuid.format(id, "standard"|"simple"|"urn")``. Output is lowercase canonical.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
import uuid as _uuid
from typing import Any

from ...errors import INVALID
from ..context import HostContext
from ..convert import LuaState, state_of
from ._support import fail, host_of, new_module, pyfn, type_name

_FORMS = re.compile(
    r"^(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|\{[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}"
    r"|urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|[0-9a-fA-F]{32})$"
)
_GREGORIAN_OFFSET_100NS = 0x01B21DD213814000  # 1582-10-15 -> 1970-01-01 in 100 ns units


def parse_uuid(text: Any) -> _uuid.UUID | None:
    if not isinstance(text, str) or not _FORMS.match(text):
        return None
    return _uuid.UUID(text.lower().removeprefix("urn:uuid:").strip("{}"))


def uuid7(unix_ms: int | None = None, rand_bytes: bytes | None = None) -> _uuid.UUID:
    ms = time.time_ns() // 1_000_000 if unix_ms is None else unix_ms
    rand = secrets.randbits(74) if rand_bytes is None else int.from_bytes(rand_bytes[:10]) >> 6
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= (rand >> 62) << 64  # 12 bits rand_a
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return _uuid.UUID(int=value)


def uuid1(now_ns: int, rand_bytes: bytes) -> _uuid.UUID:
    """A version-1 UUID from a given time and random clock sequence/node (multicast bit set,
    as RFC 4122 asks for random nodes)."""
    ts = now_ns // 100 + _GREGORIAN_OFFSET_100NS
    clock_seq = int.from_bytes(rand_bytes[:2]) & 0x3FFF
    node = int.from_bytes(rand_bytes[2:8]) | 0x010000000000
    fields = (
        ts & 0xFFFFFFFF, (ts >> 32) & 0xFFFF, ((ts >> 48) & 0x0FFF) | 0x1000, (clock_seq >> 8) | 0x80,
        clock_seq & 0xFF, node,
    )  # fmt: skip
    return _uuid.UUID(fields=fields)


def variant_name(u: _uuid.UUID) -> str:
    v = u.variant
    if v == _uuid.RFC_4122:
        return "RFC4122"
    if v == _uuid.RESERVED_NCS:
        return "Reserved"
    if v == _uuid.RESERVED_MICROSOFT:
        return "Microsoft"
    return "Future"


def _timestamp_ms(u: _uuid.UUID) -> int | None:
    if u.version == 7:
        return u.int >> 80
    if u.version == 1:
        return (u.time - _GREGORIAN_OFFSET_100NS) // 10_000
    if u.version == 6:
        t = ((u.int >> 80) << 12) | ((u.int >> 64) & 0x0FFF)
        return (t - _GREGORIAN_OFFSET_100NS) // 10_000
    return None


def install(lua: Any, ctx: HostContext) -> Any:
    st = state_of(lua)
    st.host = ctx
    return new_module(st, "uuid", lambda: _build(st))


def _build(st: LuaState) -> dict[str, Any]:
    # Built once per Lua state (on its main thread) and shared by every run: the clock and the
    # randomness are those of the run that uses the state now (host_of).
    def generated(kind: str, make: Any) -> Any:
        def call(*_: Any) -> Any:
            return str(host_of(st).side_effect(f"uuid.{kind}", lambda: str(make()))), None

        return pyfn(st, call)

    def name_based(kind: str) -> Any:
        def call(ns: Any = None, name: Any = None, *_: Any) -> Any:
            if not isinstance(ns, str) or not isinstance(name, bytes):
                return fail(st, INVALID, f"uuid.{kind}: namespace and name must be strings")
            space = parse_uuid(ns)
            if space is None:
                return fail(st, INVALID, f"uuid.{kind}: invalid namespace UUID {ns!r}")
            u = _name_uuid(space, name, 3 if kind == "v3" else 5)
            return str(u), None

        return pyfn(st, call, 2)

    def validate(value: Any = None, *_: Any) -> Any:
        return parse_uuid(value) is not None, None

    def _parsed(value: Any, fn: str) -> Any:
        u = parse_uuid(value)
        if u is None and not isinstance(value, str):
            return None, fail(st, INVALID, f"uuid.{fn}: UUID string expected, got {type_name(value)}")[1]
        if u is None:
            return None, fail(st, INVALID, f"uuid.{fn}: invalid UUID {value!r}")[1]
        return u, None

    def version(value: Any = None, *_: Any) -> Any:
        u, err = _parsed(value, "version")
        if err is not None:
            return None, err
        return (u.int >> 76) & 0xF, None

    def variant(value: Any = None, *_: Any) -> Any:
        u, err = _parsed(value, "variant")
        if err is not None:
            return None, err
        return variant_name(u), None

    def parse(value: Any = None, *_: Any) -> Any:
        u, err = _parsed(value, "parse")
        if err is not None:
            return None, err
        info: dict[str, Any] = {"uuid": str(u), "version": (u.int >> 76) & 0xF, "variant": variant_name(u)}
        ts = _timestamp_ms(u)
        if ts is not None:
            info["timestamp"] = ts
        return st.lua.table_from(info), None

    def format_(value: Any = None, style: Any = None, *_: Any) -> Any:
        u, err = _parsed(value, "format")
        if err is not None:
            return None, err
        form = "standard" if style is None else style
        if form == "standard":
            return str(u), None
        if form == "simple":
            return u.hex, None
        if form == "urn":
            return u.urn, None
        return fail(st, INVALID, f"uuid.format: unknown format {form!r} (standard, simple or urn)")

    def ctx() -> HostContext:
        return host_of(st)

    return {
        "v1": generated("v1", lambda: uuid1(ctx().now_ns(), ctx().random_bytes(8))),
        "v4": generated("v4", lambda: _uuid.UUID(bytes=ctx().random_bytes(16), version=4)),
        "v7": generated("v7", lambda: uuid7(ctx().now_ns() // 1_000_000, ctx().random_bytes(10))),
        "v3": name_based("v3"),
        "v5": name_based("v5"),
        "validate": pyfn(st, validate),
        "version": pyfn(st, version),
        "variant": pyfn(st, variant),
        "parse": pyfn(st, parse),
        "format": pyfn(st, format_),
    }


def _name_uuid(space: _uuid.UUID, name: bytes, ver: int) -> _uuid.UUID:
    """uuid3/uuid5 from raw bytes (the stdlib versions take ``str`` only)."""
    h = hashlib.md5(space.bytes + name).digest() if ver == 3 else hashlib.sha1(space.bytes + name).digest()
    return _uuid.UUID(bytes=h[:16], version=ver)
