"""Modules inside workflows on every engine (see conftest.py): crypto's ciphers and JWT and
json.validate (issue 10 item 2). On the ``replay`` engine every activation replays the whole
history, so the workflow's own check that its nonces, key and signatures came out as the first
execution sent them fails if any of them is not replayed identically."""

from __future__ import annotations

import base64
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tests.unit.test_modules_crypto_ciphers import pem_pair

from .conftest import Harness, run


def test_crypto_and_json_validate_in_a_workflow(harness_factory: Any) -> None:
    private, public = pem_pair(ec.generate_private_key(ec.SECP256R1()))

    async def body(h: Harness) -> Any:
        pid = await h.start("conf:crypto", {"ec_private": private, "ec_public": public})
        value, failure = await h.outcome(pid)
        assert failure is None, f"{h.name}: {failure}"
        return value

    res = run(harness_factory, body)
    assert res["same"] is True, "a key, nonce or signature differed on replay"
    assert res["aes_len"] == 12 + len("secret order") + 16
    assert res["plain"] == "secret order" and res["chacha_plain"] == "secret order"
    assert res["tampered"] == "Invalid"
    assert res["hs_sub"] == "order-1" and res["es_sub"] == "order-1"
    assert res["expired"] == "crypto.jwt.verify: token has expired"
    assert res["valid"] is True
    assert res["invalid"] == "validation failed: $.id: 'nope' is not a 'uuid'"
    # what the workflow made is standard: Python's libraries read it
    sealed = base64.b64decode(res["aes"])
    aes = AESGCM(base64.b64decode(res["key"]))
    assert aes.decrypt(sealed[:12], sealed[12:], b"order-1") == b"secret order"
    claims = jwt.decode(res["es"], public, algorithms=["ES256"])
    assert claims["sub"] == "order-1"
