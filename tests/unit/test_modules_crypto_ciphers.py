"""``crypto.encrypt``/``crypto.decrypt`` (AES-GCM, ChaCha20-Poly1305) and ``crypto.jwt`` (spec
lua-modules.md §11). Results are checked against the ``cryptography`` and PyJWT libraries
directly, so a ciphertext or token made in Lua is the standard one."""

from __future__ import annotations

import base64 as pybase64
import warnings
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from .test_modules_crypto import RecordingContext, make, run

NOW = 1_700_000_000
KEY32 = bytes(range(32))


@pytest.fixture
def ctx() -> RecordingContext:
    return RecordingContext(now_s=NOW)


@pytest.fixture
def lua(ctx: RecordingContext) -> Any:
    lua = make(ctx)
    lua.execute("function unhex(h) return (h:gsub('..', function(x) return string.char(tonumber(x, 16)) end)) end")
    return lua


def err_of(lua: Any, src: str) -> tuple[Any, Any, Any]:
    return run(lua, f"local v, e = {src} return v, e and e:kind(), e and e:message()")


def lua_bytes(data: bytes) -> str:
    """A Lua expression for ``data`` (any bytes)."""
    return f"unhex('{data.hex()}')"


# ---------------------------------------------------------------------------------------------
# encrypt / decrypt
# ---------------------------------------------------------------------------------------------

CIPHERS = [("aes", AESGCM, 16), ("aes", AESGCM, 24), ("aes", AESGCM, 32), ("chacha20", ChaCha20Poly1305, 32)]


@pytest.mark.parametrize(("name", "impl", "size"), CIPHERS)
@pytest.mark.parametrize("aad", [None, b"order-7", b"\x00\xff binary aad"])
@pytest.mark.parametrize("data", [b"hello", b"", b"\x00\xff\xfe" * 100])
def test_round_trip_is_the_standard_construction(
    lua: Any, name: str, impl: Any, size: int, aad: bytes | None, data: bytes
) -> None:
    key = bytes(range(size))
    aad_arg = f", {lua_bytes(aad)}" if aad is not None else ""
    sealed_hex, n, plain_hex, err = run(
        lua,
        f"local ct = crypto.encrypt.{name}({lua_bytes(data)}, {lua_bytes(key)}{aad_arg})"
        f" local pt, e = crypto.decrypt.{name}(ct, {lua_bytes(key)}{aad_arg})"
        " return hex(ct), #ct, hex(pt), e",
    )
    assert err is None and bytes.fromhex(plain_hex) == data
    sealed = bytes.fromhex(sealed_hex)
    assert n == 12 + len(data) + 16
    # nonce first, then the library's ciphertext and tag
    assert impl(key).decrypt(sealed[:12], sealed[12:], aad) == data


@pytest.mark.parametrize(("name", "impl"), [("aes", AESGCM), ("chacha20", ChaCha20Poly1305)])
def test_decrypts_what_the_library_made(lua: Any, name: str, impl: Any) -> None:
    nonce = b"n" * 12
    sealed = nonce + impl(KEY32).encrypt(nonce, b"from python", b"ctx")
    assert run(lua, f"return crypto.decrypt.{name}({lua_bytes(sealed)}, {lua_bytes(KEY32)}, 'ctx')") == (
        "from python",
        None,
    )


@pytest.mark.parametrize("name", ["aes", "chacha20"])
def test_each_encryption_has_a_fresh_nonce(lua: Any, ctx: RecordingContext, name: str) -> None:
    a, b = run(
        lua,
        f"local k = {lua_bytes(KEY32)} return hex(crypto.encrypt.{name}('x', k)), hex(crypto.encrypt.{name}('x', k))",
    )
    assert a[:24] != b[:24] and a != b
    assert [n for n, _ in ctx.recorded] == [f"crypto.encrypt.{name}"] * 2
    assert [pybase64.b64decode(v).hex() for _, v in ctx.recorded] == [a[:24], b[:24]]


@pytest.mark.parametrize(("name", "impl"), [("aes", AESGCM), ("chacha20", ChaCha20Poly1305)])
def test_replayed_nonce_gives_the_same_ciphertext(name: str, impl: Any) -> None:
    nonce = bytes(range(100, 112))
    lua = make(RecordingContext(replay={f"crypto.encrypt.{name}": [pybase64.b64encode(nonce).decode()]}))
    lua.execute("function unhex(h) return (h:gsub('..', function(x) return string.char(tonumber(x, 16)) end)) end")
    got = run(lua, f"return hex(crypto.encrypt.{name}('data', {lua_bytes(KEY32)}, 'aad'))")
    assert bytes.fromhex(got) == nonce + impl(KEY32).encrypt(nonce, b"data", b"aad")


@pytest.mark.parametrize("name", ["aes", "chacha20"])
@pytest.mark.parametrize(
    "change",
    [
        "crypto.decrypt.{n}(ct, k, 'other')",  # wrong aad
        "crypto.decrypt.{n}(ct, k)",  # aad missing
        "crypto.decrypt.{n}(crypto.encrypt.{n}('secret', k), k, 'order-1')",  # aad added
        "crypto.decrypt.{n}(ct, string.rep('z', 32), 'order-1')",  # wrong key
        "crypto.decrypt.{n}(flip(ct, 1), k, 'order-1')",  # nonce altered
        "crypto.decrypt.{n}(flip(ct, 14), k, 'order-1')",  # ciphertext altered
        "crypto.decrypt.{n}(flip(ct, #ct), k, 'order-1')",  # tag altered
        "crypto.decrypt.{n}(ct:sub(1, -2), k, 'order-1')",  # truncated
        "crypto.decrypt.{n}(ct .. 'x', k, 'order-1')",  # extended
    ],
)
def test_tampering_is_detected(lua: Any, name: str, change: str) -> None:
    lua.execute(
        "function flip(s, i) return s:sub(1, i - 1) .. string.char(s:byte(i) ~ 1) .. s:sub(i + 1) end"
        f" k = {lua_bytes(KEY32)} ct = crypto.encrypt.{name}('secret', k, 'order-1')"
    )
    assert run(lua, f"return crypto.decrypt.{name}(ct, k, 'order-1')") == ("secret", None)
    value, kind, msg = err_of(lua, change.format(n=name))
    assert (value, kind) == (None, "Invalid")
    assert msg == f"crypto.decrypt.{name}: authentication failed (wrong key or additional data, or altered ciphertext)"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            "crypto.encrypt.aes('x', string.rep('k', 15))",
            "crypto.encrypt.aes: key must be 16 or 24 or 32 bytes, got 15",
        ),
        (
            "crypto.encrypt.aes('x', string.rep('k', 33))",
            "crypto.encrypt.aes: key must be 16 or 24 or 32 bytes, got 33",
        ),
        ("crypto.encrypt.aes('x', '')", "crypto.encrypt.aes: key must be 16 or 24 or 32 bytes, got 0"),
        ("crypto.encrypt.chacha20('x', string.rep('k', 16))", "crypto.encrypt.chacha20: key must be 32 bytes, got 16"),
        (
            "crypto.decrypt.aes(string.rep('c', 40), 'short')",
            "crypto.decrypt.aes: key must be 16 or 24 or 32 bytes, got 5",
        ),
        ("crypto.decrypt.chacha20(string.rep('c', 40), '')", "crypto.decrypt.chacha20: key must be 32 bytes, got 0"),
        (
            "crypto.decrypt.aes('', string.rep('k', 32))",
            "crypto.decrypt.aes: ciphertext too short (0 bytes, at least 28): not made by crypto.encrypt.aes",
        ),
        (
            "crypto.decrypt.chacha20(string.rep('c', 27), string.rep('k', 32))",
            "crypto.decrypt.chacha20: ciphertext too short (27 bytes, at least 28): not made by"
            " crypto.encrypt.chacha20",
        ),
    ],
)
def test_bad_keys_and_short_ciphertexts_are_invalid(lua: Any, ctx: RecordingContext, call: str, message: str) -> None:
    assert err_of(lua, call) == (None, "Invalid", message)
    assert ctx.recorded == []  # a refused encryption draws no nonce


@pytest.mark.parametrize(
    ("call", "part"),
    [
        ("crypto.encrypt.aes(nil, string.rep('k', 32))", "crypto.encrypt.aes: argument #1: string expected, got nil"),
        ("crypto.encrypt.aes(5, string.rep('k', 32))", "crypto.encrypt.aes: argument #1: string expected, got number"),
        ("crypto.encrypt.chacha20('x')", "crypto.encrypt.chacha20: argument #2: string expected, got nil"),
        (
            "crypto.encrypt.aes('x', string.rep('k', 32), {})",
            "crypto.encrypt.aes: argument #3: string expected, got table",
        ),
        ("crypto.decrypt.aes({}, string.rep('k', 32))", "crypto.decrypt.aes: argument #1: string expected, got table"),
        ("crypto.decrypt.chacha20('x', 32)", "crypto.decrypt.chacha20: argument #2: string expected, got number"),
    ],
)
def test_wrong_argument_types_raise(lua: Any, call: str, part: str) -> None:
    ok, msg = run(lua, f"return pcall(function() local v = {call} return v end)")
    assert ok is False and msg.startswith(f"user.lua:1: {part}"), msg


def test_ciphertexts_are_binary_strings_for_base64(lua: Any) -> None:
    got = run(
        lua,
        f"local k = {lua_bytes(KEY32)} local ct = crypto.encrypt.aes('hi', k)"
        " local text = base64.encode(ct)"
        " local back = base64.decode(text)"
        " return type(text), back == ct, (crypto.decrypt.aes(back, k))",
    )
    assert got == ("string", True, "hi")


# ---------------------------------------------------------------------------------------------
# jwt
# ---------------------------------------------------------------------------------------------


def pem_pair(key: Any) -> tuple[str, str]:
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.fixture(scope="module")
def rsa_pems() -> tuple[str, str]:
    return pem_pair(rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture(scope="module")
def ec_pems() -> tuple[str, str]:
    return pem_pair(ec.generate_private_key(ec.SECP256R1()))


def quiet(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """A PyJWT call from the test itself, with short HMAC secrets: the library warns about them
    (duralua's module must not, which -W error would show)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        return fn(*args, **kwargs)


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512", None])
def test_hmac_tokens_are_standard(lua: Any, alg: str | None) -> None:
    arg = f", '{alg}'" if alg else ""
    token, err = run(
        lua, f"return crypto.jwt.encode({{sub = 'u1', exp = {NOW + 60}, n = 1.5, tags = {{'a'}}}}, 'secret'{arg})"
    )
    assert err is None
    want = alg or "HS256"
    assert jwt.get_unverified_header(token) == {"alg": want, "typ": "JWT"}
    assert quiet(jwt.decode, token, "secret", algorithms=[want], options={"verify_exp": False}) == {
        "sub": "u1",
        "exp": NOW + 60,
        "n": 1.5,
        "tags": ["a"],
    }
    got = run(
        lua,
        f"local c, e = crypto.jwt.verify('{token}', 'secret'{arg}) return c.sub, math.type(c.exp), c.n, c.tags[1], e",
    )
    assert got == ("u1", "integer", 1.5, "a", None)


def test_verifies_tokens_the_library_made(lua: Any) -> None:
    token = quiet(jwt.encode, {"sub": "py", "exp": NOW + 5, "aud": "shop"}, "k" * 32, algorithm="HS512")
    assert run(
        lua, f"local c, e = crypto.jwt.verify('{token}', string.rep('k', 32), 'HS512') return c.sub, c.aud, e"
    ) == (
        "py",
        "shop",
        None,
    )


def test_binary_secret(lua: Any) -> None:
    token = run(lua, f"return crypto.jwt.encode({{exp = {NOW + 5}}}, {lua_bytes(KEY32)})")[0]
    assert jwt.decode(token, KEY32, algorithms=["HS256"], options={"verify_exp": False}) == {"exp": NOW + 5}


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        (f"exp = {NOW}", "crypto.jwt.verify: token has expired"),  # exp is the first second it is not valid
        (f"exp = {NOW - 3600}", "crypto.jwt.verify: token has expired"),
        (f"exp = {NOW + 60}, nbf = {NOW + 1}", "crypto.jwt.verify: token is not valid yet (nbf)"),
        ("sub = 'x'", "crypto.jwt.verify: token has no expiry (exp claim); pass require_exp = false to accept it"),
    ],
)
def test_time_claims_are_checked_against_the_host_clock(lua: Any, claims: str, message: str) -> None:
    assert err_of(lua, f"crypto.jwt.verify(crypto.jwt.encode({{{claims}}}, 'k'), 'k')") == (None, "Invalid", message)


def test_valid_time_window_and_require_exp(lua: Any, ctx: RecordingContext) -> None:
    token = run(lua, f"return crypto.jwt.encode({{exp = {NOW + 1}, nbf = {NOW}, iat = {NOW}}}, 'k')")[0]
    assert run(lua, f"return crypto.jwt.verify('{token}', 'k').exp") == NOW + 1
    ctx.now_s = NOW + 1  # the clock moved on
    assert err_of(lua, f"crypto.jwt.verify('{token}', 'k')")[2] == "crypto.jwt.verify: token has expired"
    no_exp = run(lua, "return crypto.jwt.encode({sub = 'forever'}, 'k')")[0]
    assert run(lua, f"return crypto.jwt.verify('{no_exp}', 'k', nil, false).sub") == "forever"
    assert run(lua, f"return crypto.jwt.verify('{no_exp}', 'k', 'HS256', false).sub") == "forever"
    # exp is still checked when it is not required
    assert err_of(lua, f"crypto.jwt.verify('{token}', 'k', nil, false)")[1] == "Invalid"


def test_rejected_tokens(lua: Any) -> None:
    token = run(lua, f"return crypto.jwt.encode({{sub = 'u', exp = {NOW + 60}}}, 'secret')")[0]
    head, _, sig = token.split(".")
    forged_body = pybase64.urlsafe_b64encode(b'{"sub":"admin","exp":9999999999}').rstrip(b"=").decode()
    unsigned = jwt.encode({"sub": "u", "exp": NOW + 60}, None, algorithm="none")
    cases = {
        "crypto.jwt.verify(T, 'other')": "crypto.jwt.verify: Signature verification failed",
        f"crypto.jwt.verify('{head}.{forged_body}.{sig}', 'secret')": "crypto.jwt.verify: Signature verification",
        "crypto.jwt.verify(T, 'secret', 'HS512')": "crypto.jwt.verify: The specified alg value is not allowed",
        f"crypto.jwt.verify('{unsigned}', 'secret')": "crypto.jwt.verify: The specified alg value is not allowed",
        "crypto.jwt.verify('abc', 'secret')": "crypto.jwt.verify: Not enough segments",
        "crypto.jwt.verify('', 'secret')": "crypto.jwt.verify: token is empty",
        "crypto.jwt.verify('\\xff\\xfe', 'secret')": None,
        "crypto.jwt.verify(T, '')": "crypto.jwt.verify: key must not be empty",
        "crypto.jwt.verify(T, 'secret', 'none')": "crypto.jwt.verify: unsupported algorithm 'none'",
    }
    lua.globals()["T"] = token
    for call, message in cases.items():
        value, kind, msg = err_of(lua, call)
        assert (value, kind) == (None, "Invalid"), call
        assert message is None or msg.startswith(message), (call, msg)


def test_rsa(lua: Any, rsa_pems: tuple[str, str]) -> None:
    private, public = rsa_pems
    other_public = pem_pair(rsa.generate_private_key(public_exponent=65537, key_size=2048))[1]
    lua.globals()["PRIV"], lua.globals()["PUB"], lua.globals()["OTHER"] = private, public, other_public
    token, err = run(lua, f"return crypto.jwt.encode({{sub = 'r', exp = {NOW + 9}}}, PRIV, 'RS256')")
    assert err is None
    assert jwt.decode(token, public, algorithms=["RS256"], options={"verify_exp": False})["sub"] == "r"
    assert run(lua, f"return crypto.jwt.verify('{token}', PUB, 'RS256').sub") == "r"
    assert run(lua, f"return crypto.jwt.verify('{token}', PRIV, 'RS256').sub") == "r"  # its public half
    assert err_of(lua, f"crypto.jwt.verify('{token}', OTHER, 'RS256')")[2] == (
        "crypto.jwt.verify: Signature verification failed"
    )
    for alg in ("RS384", "RS512"):
        tok = run(lua, f"return crypto.jwt.encode({{exp = {NOW + 9}}}, PRIV, '{alg}')")[0]
        assert jwt.decode(tok, public, algorithms=[alg], options={"verify_exp": False}) == {"exp": NOW + 9}


def test_ecdsa_is_deterministic_and_standard(lua: Any, ec_pems: tuple[str, str]) -> None:
    private, public = ec_pems
    lua.globals()["PRIV"], lua.globals()["PUB"] = private, public
    a, b = run(
        lua,
        f"return crypto.jwt.encode({{sub = 'e', exp = {NOW + 9}}}, PRIV, 'ES256'),"
        f" (crypto.jwt.encode({{sub = 'e', exp = {NOW + 9}}}, PRIV, 'ES256'))",
    )
    assert a == b  # a workflow that signs replays to the same token
    assert jwt.decode(a, public, algorithms=["ES256"], options={"verify_exp": False})["sub"] == "e"
    assert run(lua, f"return crypto.jwt.verify('{a}', PUB, 'ES256').sub") == "e"
    library_made = jwt.encode({"sub": "lib", "exp": NOW + 9}, private, algorithm="ES256")
    assert run(lua, f"return crypto.jwt.verify('{library_made}', PUB, 'ES256').sub") == "lib"


def test_eddsa(lua: Any) -> None:
    private, public = pem_pair(ed25519.Ed25519PrivateKey.generate())
    lua.globals()["PRIV"], lua.globals()["PUB"] = private, public
    token = run(lua, f"return crypto.jwt.encode({{sub = 'ed', exp = {NOW + 9}}}, PRIV, 'EdDSA')")[0]
    assert jwt.decode(token, public, algorithms=["EdDSA"], options={"verify_exp": False})["sub"] == "ed"
    assert run(lua, f"return crypto.jwt.verify('{token}', PUB, 'EdDSA').sub") == "ed"


def test_keys_of_the_wrong_kind(lua: Any, rsa_pems: tuple[str, str], ec_pems: tuple[str, str]) -> None:
    p384 = pem_pair(ec.generate_private_key(ec.SECP384R1()))[0]
    g = lua.globals()
    g["RSA"], g["RSA_PUB"], g["EC"], g["P384"] = rsa_pems[0], rsa_pems[1], ec_pems[0], p384
    cases = {
        "crypto.jwt.encode({}, EC, 'RS256')": "crypto.jwt.encode: RS256 needs an RSA key",
        "crypto.jwt.encode({}, RSA, 'ES256')": "crypto.jwt.encode: ES256 needs an EC key",
        "crypto.jwt.encode({}, P384, 'ES256')": "crypto.jwt.encode: ES256 needs a key on curve secp256r1, got",
        "crypto.jwt.encode({}, RSA_PUB, 'RS256')": "crypto.jwt.encode: key must be an unencrypted PEM private key",
        "crypto.jwt.encode({}, 'not a pem', 'RS256')": "crypto.jwt.encode: key must be an unencrypted PEM private key",
        "crypto.jwt.verify('a.b.c', 'not a pem', 'ES256')": "crypto.jwt.verify: key must be a PEM public",
        "crypto.jwt.encode({}, RSA_PUB, 'HS256')": "crypto.jwt.encode: The specified key is an asymmetric key",
        "crypto.jwt.encode({}, '')": "crypto.jwt.encode: key must not be empty",
    }
    for call, message in cases.items():
        value, kind, msg = err_of(lua, call)
        assert (value, kind) == (None, "Invalid") and msg.startswith(message), (call, msg)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ("crypto.jwt.encode({1, 2}, 'k')", "crypto.jwt.encode: payload must be a table of claims with string keys"),
        ("crypto.jwt.encode({exp = 'soon'}, 'k')", "crypto.jwt.encode: claim 'exp' must be a number"),
        ("crypto.jwt.encode({nbf = true}, 'k')", "crypto.jwt.encode: claim 'nbf' must be a number"),
        ("crypto.jwt.encode({a = '\\xff'}, 'k')", "crypto.jwt.encode: payload.a: binary string"),
        ("crypto.jwt.encode({f = print}, 'k')", "crypto.jwt.encode: payload.f"),
        ("crypto.jwt.encode({}, 'k', 'PS256')", "crypto.jwt.encode: unsupported algorithm 'PS256'"),
        ("crypto.jwt.encode({}, 'k', 'hs256')", "crypto.jwt.encode: unsupported algorithm 'hs256'"),
        ("crypto.jwt.encode({}, 'k', '')", "crypto.jwt.encode: unsupported algorithm ''"),
    ],
)
def test_bad_payloads_and_algorithms(lua: Any, call: str, message: str) -> None:
    value, kind, msg = err_of(lua, call)
    assert (value, kind) == (None, "Invalid") and msg.startswith(message), msg


def test_empty_payload_is_an_empty_claim_set(lua: Any) -> None:
    token = run(lua, "return crypto.jwt.encode({}, 'k')")[0]
    assert quiet(jwt.decode, token, "k", algorithms=["HS256"]) == {}
    assert run(lua, f"local c = crypto.jwt.verify('{token}', 'k', nil, false) return next(c) == nil") is True


def test_verified_non_object_payload_is_invalid(lua: Any) -> None:
    token = quiet(jwt.api_jws.PyJWS().encode, b"[1,2]", "k", algorithm="HS256")
    assert err_of(lua, f"crypto.jwt.verify('{token}', 'k')")[2] == (
        "crypto.jwt.verify: the token's payload is not a JSON object of claims"
    )


@pytest.mark.parametrize(
    ("call", "part"),
    [
        ("crypto.jwt.encode('x', 'k')", "crypto.jwt.encode: argument #1: table expected, got string"),
        ("crypto.jwt.encode(nil, 'k')", "crypto.jwt.encode: argument #1: table expected, got nil"),
        ("crypto.jwt.encode({}, nil)", "crypto.jwt.encode: argument #2: string expected, got nil"),
        ("crypto.jwt.encode({}, 'k', 256)", "crypto.jwt.encode: argument #3: string expected, got number"),
        ("crypto.jwt.verify(nil, 'k')", "crypto.jwt.verify: argument #1: string expected, got nil"),
        ("crypto.jwt.verify('a.b.c', {})", "crypto.jwt.verify: argument #2: string expected, got table"),
    ],
)
def test_jwt_wrong_argument_types_raise(lua: Any, call: str, part: str) -> None:
    ok, msg = run(lua, f"return pcall(function() local v = {call} return v end)")
    assert ok is False and msg.startswith(f"user.lua:1: {part}"), msg


def test_verified_claims_nested_too_deep_are_invalid(lua: Any) -> None:
    nested = b'{"exp": %d, "x": %s1%s}' % (NOW + 60, b"[" * 200, b"]" * 200)
    token = quiet(jwt.api_jws.PyJWS().encode, nested, "k", algorithm="HS256")
    value, kind, msg = err_of(lua, f"crypto.jwt.verify('{token}', 'k')")
    assert (value, kind) == (None, "Invalid") and msg.startswith("crypto.jwt.verify: claims: "), msg
