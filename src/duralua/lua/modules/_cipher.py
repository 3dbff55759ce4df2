"""``crypto.encrypt.aes/chacha20`` and ``crypto.decrypt.aes/chacha20`` (AEAD ciphers).

Every function takes and returns raw-byte strings: a ciphertext is the 12-byte nonce, then the
encrypted data, then the 16-byte authentication tag, a binary Lua string that ``base64.encode``
(or ``hash.*``) accepts as it is; it cannot go into ``json.encode`` or a workflow result before
it is base64-encoded (the boundary rule for binary strings). Keys are raw bytes too: 16, 24 or
32 for AES-GCM, 32 for ChaCha20-Poly1305 (``crypto.random.bytes(32)`` makes one).

The nonce is the only random part. It is drawn through ``ctx.side_effect`` from
``ctx.random_bytes`` like ``crypto.random.bytes``, so inside a workflow it comes from the run's
seeded generator and an encryption replays to the same ciphertext. A refused call draws nothing,
so it cannot shift the values later calls draw.

``cryptography`` is imported on the first call: a runtime that never encrypts does not load it.
"""

from __future__ import annotations

import base64
from typing import Any

from ...errors import INVALID
from ..convert import LuaState
from ._support import as_bytes, fail, host_of, opt_bytes, pyfn

NONCE_SIZE = 12
TAG_SIZE = 16
KEY_SIZES = {"aes": (16, 24, 32), "chacha20": (32,)}


def _cipher(name: str, key: bytes) -> Any:
    if name == "aes":
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        return AESGCM(key)
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

    return ChaCha20Poly1305(key)


def _key_problem(name: str, key: bytes) -> str | None:
    sizes = KEY_SIZES[name]
    if len(key) in sizes:
        return None
    want = " or ".join(str(n) for n in sizes)
    return f"key must be {want} bytes, got {len(key)}"


def build(st: LuaState) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``encrypt`` and ``decrypt`` tables' functions."""

    def encrypt_fn(name: str) -> Any:
        where = f"crypto.encrypt.{name}"

        def encrypt(data: Any = None, key: Any = None, aad: Any = None, *_: Any) -> Any:
            plain = as_bytes(data, f"{where}: argument #1")
            k = as_bytes(key, f"{where}: argument #2")
            extra = opt_bytes(aad, f"{where}: argument #3")
            problem = _key_problem(name, k)
            if problem:
                return fail(st, INVALID, f"{where}: {problem}")
            ctx = host_of(st)
            drawn = ctx.side_effect(where, lambda: base64.b64encode(ctx.random_bytes(NONCE_SIZE)).decode("ascii"))
            nonce = base64.b64decode(str(drawn))
            try:
                return nonce + _cipher(name, k).encrypt(nonce, plain, extra or None), None
            except (ValueError, OverflowError) as exc:  # data over the library's 2 GiB bound
                return fail(st, INVALID, f"{where}: {exc}")

        return pyfn(st, encrypt, 1, 2, 3)

    def decrypt_fn(name: str) -> Any:
        where = f"crypto.decrypt.{name}"

        def decrypt(data: Any = None, key: Any = None, aad: Any = None, *_: Any) -> Any:
            from cryptography.exceptions import InvalidTag

            sealed = as_bytes(data, f"{where}: argument #1")
            k = as_bytes(key, f"{where}: argument #2")
            extra = opt_bytes(aad, f"{where}: argument #3")
            problem = _key_problem(name, k)
            if problem:
                return fail(st, INVALID, f"{where}: {problem}")
            if len(sealed) < NONCE_SIZE + TAG_SIZE:
                short = f"{len(sealed)} bytes, at least {NONCE_SIZE + TAG_SIZE}"
                return fail(st, INVALID, f"{where}: ciphertext too short ({short}): not made by crypto.encrypt.{name}")
            try:
                return _cipher(name, k).decrypt(sealed[:NONCE_SIZE], sealed[NONCE_SIZE:], extra or None), None
            except InvalidTag:
                return fail(
                    st, INVALID, f"{where}: authentication failed (wrong key or additional data, or altered ciphertext)"
                )
            except (ValueError, OverflowError) as exc:
                return fail(st, INVALID, f"{where}: {exc}")

        return pyfn(st, decrypt, 1, 2, 3)

    names = tuple(KEY_SIZES)
    return {n: encrypt_fn(n) for n in names}, {n: decrypt_fn(n) for n in names}
