"""The ``base64`` module.

``base64.encode(s)`` -> string (standard alphabet, padded); ``base64.decode(s)`` -> string, err
(the result may be a binary string; invalid input -> ``nil, err`` kind ``Invalid``).
``base64.url_encode(s)`` / ``base64.url_decode(s)``: URL-safe alphabet, no padding on encode;
decode accepts padded and unpadded input. All functions accept binary strings.
"""

from __future__ import annotations

import base64 as _b64
import binascii
from typing import Any

from ...errors import INVALID
from ..context import HostContext
from ..convert import LuaState, state_of
from ._support import as_bytes, fail, new_module, pyfn


def install(lua: Any, ctx: HostContext) -> Any:
    st = state_of(lua)
    return new_module(st, "base64", lambda: _build(st))


def _build(st: LuaState) -> dict[str, Any]:
    def encode(data: Any = None, *_: Any) -> Any:
        return _b64.b64encode(as_bytes(data, "base64.encode: argument #1")).decode("ascii")

    def decode(data: Any = None, *_: Any) -> Any:
        raw = as_bytes(data, "base64.decode: argument #1")
        try:
            return _b64.b64decode(raw, validate=True), None
        except (binascii.Error, ValueError) as exc:
            return fail(st, INVALID, f"base64.decode: invalid base64 data: {exc}")

    def url_encode(data: Any = None, *_: Any) -> Any:
        out = _b64.urlsafe_b64encode(as_bytes(data, "base64.url_encode: argument #1"))
        return out.rstrip(b"=").decode("ascii")

    def url_decode(data: Any = None, *_: Any) -> Any:
        raw = as_bytes(data, "base64.url_decode: argument #1").rstrip(b"=")
        try:
            if not all(c in _URL_ALPHABET for c in raw):
                raise ValueError("invalid character")
            return _b64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4)), None
        except (binascii.Error, ValueError) as exc:
            return fail(st, INVALID, f"base64.url_decode: invalid base64 data: {exc}")

    return {
        "encode": pyfn(st, encode, 1),
        "decode": pyfn(st, decode, 1),
        "url_encode": pyfn(st, url_encode, 1),
        "url_decode": pyfn(st, url_decode, 1),
    }


_URL_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
