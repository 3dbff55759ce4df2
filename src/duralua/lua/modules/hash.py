"""The ``hash`` module (pure; accepts binary strings).

* ``hash.md5(data, raw?)``, ``hash.sha1``, ``hash.sha256``, ``hash.sha512`` -> lowercase hex
  string (or the raw digest bytes when ``raw`` is true), nil.
* ``hash.hmac_md5(data, secret, raw?)``, ``hmac_sha1``, ``hmac_sha256``, ``hmac_sha512`` -> same.
* ``hash.fnv32(data)``, ``fnv32a``, ``fnv64``, ``fnv64a`` -> integer, nil (64-bit values wrap to
  Lua's signed integers: same bits as Go's ``uint64``); ``hash.crc32(data)`` -> integer, nil
  (IEEE polynomial, as Go's ``crc32.ChecksumIEEE``).
"""

from __future__ import annotations

import hashlib
import hmac
import zlib
from collections.abc import Callable
from typing import Any

from ..context import HostContext
from ..convert import LuaState, state_of
from ._support import as_bytes, new_module, pyfn

_DIGESTS = ("md5", "sha1", "sha256", "sha512")


def _fnv(data: bytes, bits: int, alt: bool) -> int:
    if bits == 32:
        h, prime, mask = 0x811C9DC5, 0x01000193, 0xFFFFFFFF
    else:
        h, prime, mask = 0xCBF29CE484222325, 0x100000001B3, 0xFFFFFFFFFFFFFFFF
    for b in data:
        h = ((h ^ b) * prime) & mask if alt else ((h * prime) & mask) ^ b
    if bits == 64 and h >= 1 << 63:
        h -= 1 << 64
    return h


def install(lua: Any, ctx: HostContext) -> Any:
    st = state_of(lua)
    return new_module(st, "hash", lambda: _build(st))


def _build(st: LuaState) -> dict[str, Any]:
    out: dict[str, Any] = {}

    def digest_fn(name: str) -> Callable[..., Any]:
        def digest(data: Any = None, raw: Any = None, *_: Any) -> Any:
            d = hashlib.new(name, as_bytes(data, f"hash.{name}: argument #1"))
            return (d.digest() if raw else d.hexdigest()), None

        return digest

    def hmac_fn(name: str) -> Callable[..., Any]:
        def mac(data: Any = None, secret: Any = None, raw: Any = None, *_: Any) -> Any:
            m = hmac.new(
                as_bytes(secret, f"hash.hmac_{name}: argument #2"),
                as_bytes(data, f"hash.hmac_{name}: argument #1"),
                name,
            )
            return (m.digest() if raw else m.hexdigest()), None

        return mac

    for name in _DIGESTS:
        out[name] = pyfn(st, digest_fn(name), 1)
        out[f"hmac_{name}"] = pyfn(st, hmac_fn(name), 1, 2)

    def fnv_fn(bits: int, alt: bool) -> Callable[..., Any]:
        label = f"fnv{bits}{'a' if alt else ''}"

        def fnv(data: Any = None, *_: Any) -> Any:
            return _fnv(as_bytes(data, f"hash.{label}: argument #1"), bits, alt), None

        return fnv

    for bits in (32, 64):
        out[f"fnv{bits}"] = pyfn(st, fnv_fn(bits, False), 1)
        out[f"fnv{bits}a"] = pyfn(st, fnv_fn(bits, True), 1)

    def crc32(data: Any = None, *_: Any) -> Any:
        return zlib.crc32(as_bytes(data, "hash.crc32: argument #1")), None

    out["crc32"] = pyfn(st, crc32, 1)
    return out
