"""The ``crypto`` module (spec lua-modules.md §11).

* ``crypto.random.bytes(n)`` (binary string), ``crypto.random.string(n, charset?)``,
  ``crypto.random.uuid()``: go through ``ctx.side_effect`` (recorded in workflows). ``n`` must be
  in [1, 1 MiB] and a charset must not be empty (else ``nil, err`` ``Invalid``). Byte results
  are recorded base64-encoded.
* ``crypto.hmac.sha256(key, data)`` / ``sha512`` -> hex string, err (empty key -> ``Invalid``).
* ``crypto.pbkdf2(password, salt, iterations, key_len, hash?)`` -> raw bytes, err
  (``hash`` = ``"sha256"`` (default) or ``"sha512"``; empty password or salt -> ``Invalid``).
  The work (iterations times output blocks) is bounded by :data:`MAX_PBKDF2_WORK`: a call runs on
  the thread that drives every Lua process of the runtime, which it would stall.
* ``crypto.constant_time_compare(a, b)`` -> boolean.
* ``crypto.encrypt.aes/chacha20``, ``crypto.decrypt.aes/chacha20``: AEAD ciphers (``_cipher``).
* ``crypto.jwt.encode/verify``: signed JSON Web Tokens (``_jwt``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from typing import Any

from ...errors import INVALID
from ..context import HostContext
from ..convert import LuaState, state_of
from . import _cipher, _jwt
from ._support import as_bytes, check_int, check_str, fail, host_of, new_module, opt_bytes, pyfn

MAX_RANDOM = 1024 * 1024
DEFAULT_CHARSET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
MAX_PBKDF2_WORK = 10_000_000  # iterations x output blocks: about 5 s of SHA-256 on one core


def install(lua: Any, ctx: HostContext) -> Any:
    st = state_of(lua)
    st.host = ctx
    return new_module(st, "crypto", lambda: _build(st))


def _build(st: LuaState) -> dict[str, Any]:
    # Built once per Lua state and shared by every run (see uuid._build): randomness comes
    # from the run that uses the state now.
    def _size(n: Any, what: str) -> int | None:
        size = check_int(n, f"{what}: argument #1")
        return size if 1 <= size <= MAX_RANDOM else None

    def random_bytes(n: Any = None, *_: Any) -> Any:
        size = _size(n, "crypto.random.bytes")
        if size is None:
            return fail(st, INVALID, f"crypto.random.bytes: length must be between 1 and {MAX_RANDOM}")
        ctx = host_of(st)
        value = ctx.side_effect("crypto.random.bytes", lambda: base64.b64encode(ctx.random_bytes(size)).decode("ascii"))
        return base64.b64decode(str(value)), None

    def random_string(n: Any = None, charset: Any = None, *_: Any) -> Any:
        size = _size(n, "crypto.random.string")
        if size is None:
            return fail(st, INVALID, f"crypto.random.string: length must be between 1 and {MAX_RANDOM}")
        chars = opt_bytes(charset, "crypto.random.string: argument #2")
        if chars is None:
            chars = DEFAULT_CHARSET
        elif not chars:
            return fail(st, INVALID, "crypto.random.string: charset must not be empty")

        ctx = host_of(st)

        def produce() -> str:
            rnd = ctx.random_bytes(size)
            out = bytes(chars[b % len(chars)] for b in rnd)
            return base64.b64encode(out).decode("ascii")

        return base64.b64decode(str(ctx.side_effect("crypto.random.string", produce))), None

    def random_uuid(*_: Any) -> Any:
        ctx = host_of(st)

        def produce() -> str:
            return str(uuid.UUID(bytes=ctx.random_bytes(16), version=4))

        return str(ctx.side_effect("crypto.random.uuid", produce)), None

    def hmac_fn(name: str) -> Any:
        def mac(key: Any = None, data: Any = None, *_: Any) -> Any:
            k = as_bytes(key, f"crypto.hmac.{name}: argument #1")
            d = as_bytes(data, f"crypto.hmac.{name}: argument #2")
            if not k:
                return fail(st, INVALID, f"crypto.hmac.{name}: key must not be empty")
            return hmac.new(k, d, name).hexdigest(), None

        return pyfn(st, mac, 1, 2)

    def pbkdf2(
        password: Any = None, salt: Any = None, iterations: Any = None, key_len: Any = None,
        hash_name: Any = None, *_: Any,
    ) -> Any:  # fmt: skip
        pw = as_bytes(password, "crypto.pbkdf2: argument #1")
        sa = as_bytes(salt, "crypto.pbkdf2: argument #2")
        it = check_int(iterations, "crypto.pbkdf2: argument #3")
        kl = check_int(key_len, "crypto.pbkdf2: argument #4")
        algo = "sha256" if hash_name is None else check_str(hash_name, "crypto.pbkdf2: argument #5")
        if algo not in ("sha256", "sha512"):
            return fail(st, INVALID, f"crypto.pbkdf2: unsupported hash {algo!r} (use sha256 or sha512)")
        if not pw or not sa:
            return fail(st, INVALID, f"crypto.pbkdf2: {'password' if not pw else 'salt'} must not be empty")
        if it < 1 or kl < 1 or kl > MAX_RANDOM:
            return fail(
                st, INVALID, f"crypto.pbkdf2: iterations must be positive and key length between 1 and {MAX_RANDOM}"
            )
        blocks = -(-kl // hashlib.new(algo).digest_size)
        if it * blocks > MAX_PBKDF2_WORK:
            return fail(
                st, INVALID, f"crypto.pbkdf2: iterations x key blocks ({it} x {blocks}) exceed {MAX_PBKDF2_WORK}"
            )
        return hashlib.pbkdf2_hmac(algo, pw, sa, it, kl), None

    def compare(a: Any = None, b: Any = None, *_: Any) -> Any:
        x = as_bytes(a, "crypto.constant_time_compare: argument #1")
        y = as_bytes(b, "crypto.constant_time_compare: argument #2")
        return hmac.compare_digest(x, y)

    encrypt, decrypt = _cipher.build(st)
    t = st.lua.table_from
    return {
        "random": t(
            {
                "bytes": pyfn(st, random_bytes),
                "string": pyfn(st, random_string, 2),
                "uuid": pyfn(st, random_uuid),
            }
        ),
        "hmac": t({"sha256": hmac_fn("sha256"), "sha512": hmac_fn("sha512")}),
        "pbkdf2": pyfn(st, pbkdf2, 1, 2),
        "constant_time_compare": pyfn(st, compare, 1, 2),
        "encrypt": t(encrypt),
        "decrypt": t(decrypt),
        "jwt": t(_jwt.build(st)),
    }
