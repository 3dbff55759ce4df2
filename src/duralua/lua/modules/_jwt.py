"""``crypto.jwt.encode`` / ``crypto.jwt.verify`` (signed JSON Web Tokens, on PyJWT).

* ``crypto.jwt.encode(payload, key, alg?)`` -> token string, err. ``payload`` is a table of claims;
  ``alg`` is ``HS256`` (default), ``HS384``, ``HS512`` (``key``: the shared secret, any non-empty
  string), ``RS256``/``RS384``/``RS512``, ``ES256``/``ES384``/``ES512`` or ``EdDSA`` (``key``: a PEM
  private key of that family; ES keys on the curve the algorithm names).
* ``crypto.jwt.verify(token, key, alg?, require_exp?)`` -> claims table, err. The token must be
  signed with ``alg`` (default ``HS256``) whatever its header says, so a token cannot pick a
  weaker algorithm (or ``none``); ``key`` is the secret, or a PEM public (or private) key.
  ``exp`` and ``nbf`` are checked against ``time.now()``; a token without ``exp`` is refused
  unless ``require_exp`` is ``false``.

Every failure is ``nil, err`` of kind ``Invalid``; wrong argument types raise.

Both functions are pure in workflows: the clock is the workflow clock, and ECDSA signatures are
deterministic (RFC 6979) instead of OpenSSL's random ones, so a token made in a workflow replays
to the same token. PSS signatures (``PS256``...) are random by design and are not offered.
PyJWT warns about short HMAC secrets and RSA keys; duralua does not repeat that warning into the
app's output (Wippy accepts any secret), choosing the key stays with the app.
"""

from __future__ import annotations

import functools
from typing import Any

from ...codec import dumps
from ...errors import INVALID, EncodeError
from ..convert import LuaState, to_lua, to_python
from ._support import ArgError, as_bytes, check_str, fail, host_of, pyfn, type_name

ALGORITHMS = ("HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "EdDSA")
_CURVES = {"ES256": "secp256r1", "ES384": "secp384r1", "ES512": "secp521r1"}
_TIME_CLAIMS = ("exp", "nbf", "iat")


def _no_key_length_warning(key: Any) -> None:
    return None


def _deterministic_ecdsa(alg: Any) -> Any:
    def sign(msg: bytes, key: Any) -> bytes:
        from cryptography.hazmat.primitives.asymmetric.ec import ECDSA
        from jwt.utils import der_to_raw_signature

        der = key.sign(msg, ECDSA(alg.hash_alg(), deterministic_signing=True))
        return der_to_raw_signature(der, key.curve)

    return sign


@functools.cache
def _jws() -> Any:
    """One PyJWS that knows only :data:`ALGORITHMS`, built on first use."""
    from jwt import PyJWS
    from jwt.algorithms import get_default_algorithms

    # The library's own algorithm objects (their hash and curve settings differ between PyJWT
    # releases), adjusted per instance: fresh ones come from every get_default_algorithms().
    defaults = get_default_algorithms()
    jws = PyJWS(algorithms=[])
    for name in ALGORITHMS:
        alg = defaults[name]
        alg.check_key_length = _no_key_length_warning  # type: ignore[method-assign]
        if name in _CURVES:
            alg.sign = _deterministic_ecdsa(alg)  # type: ignore[method-assign]
        jws.register_algorithm(name, alg)
    return jws


def _load_pem(pem: bytes, private: bool) -> Any:
    """A key object from PEM text, or an error message (a ``str``)."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    try:
        return serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        if private:
            return "key must be an unencrypted PEM private key"
    try:
        return serialization.load_pem_public_key(pem)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return "key must be a PEM public or private key"


def _asymmetric_key(alg: str, pem: bytes, private: bool) -> Any:
    """The key object for ``alg`` from PEM text, or an error message (a ``str``)."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

    key = _load_pem(pem, private)
    if isinstance(key, str):
        return key
    if not private and hasattr(key, "public_key"):
        key = key.public_key()
    if alg.startswith("RS"):
        want: tuple[type, ...] = (rsa.RSAPrivateKey, rsa.RSAPublicKey)
        family = "an RSA"
    elif alg in _CURVES:
        want, family = (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey), "an EC"
    else:
        want = (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey, ed448.Ed448PrivateKey, ed448.Ed448PublicKey)
        family = "an Ed25519 or Ed448"
    if not isinstance(key, want):
        return f"{alg} needs {family} key"
    curve = key.curve.name if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)) else None
    if alg in _CURVES and curve != _CURVES[alg]:
        return f"{alg} needs a key on curve {_CURVES[alg]}, got {curve}"
    return key


def _key(alg: str, raw: bytes, private: bool) -> Any:
    if alg.startswith("HS"):
        return raw if raw else "key must not be empty"
    return _asymmetric_key(alg, raw, private)


def _algorithm(value: Any, where: str) -> str:
    return "HS256" if value is None else check_str(value, f"{where}: argument #3")


def _time_claim_problem(claims: dict[str, Any]) -> str | None:
    for name in _TIME_CLAIMS:
        value = claims.get(name)
        if name in claims and (isinstance(value, bool) or not isinstance(value, (int, float))):
            return f"claim {name!r} must be a number (seconds since 1970), got {type_name(value)}"
    return None


def _validity_problem(claims: dict[str, Any], now: float, require_exp: bool) -> str | None:
    problem = _time_claim_problem(claims)
    if problem:
        return problem
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if exp is None and require_exp:
        return "token has no expiry (exp claim); pass require_exp = false to accept it"
    if exp is not None and now >= exp:
        return "token has expired"
    if nbf is not None and now < nbf:
        return "token is not valid yet (nbf)"
    return None


def build(st: LuaState) -> dict[str, Any]:
    """The ``crypto.jwt`` table's functions."""

    def encode(payload: Any = None, key: Any = None, alg: Any = None, *_: Any) -> Any:
        from jwt.exceptions import PyJWTError

        where = "crypto.jwt.encode"
        if type_name(payload) != "table":
            raise ArgError(f"{where}: argument #1: table expected, got {type_name(payload)}")
        raw_key = as_bytes(key, f"{where}: argument #2")
        name = _algorithm(alg, where)
        if name not in ALGORITHMS:
            return fail(st, INVALID, f"{where}: unsupported algorithm {name!r} (use one of {', '.join(ALGORITHMS)})")
        try:
            claims = to_python(payload, "payload")
        except EncodeError as exc:
            return fail(st, INVALID, f"{where}: {exc}")
        if claims == []:
            claims = {}
        if not isinstance(claims, dict):
            return fail(st, INVALID, f"{where}: payload must be a table of claims with string keys, not an array")
        problem = _time_claim_problem(claims)
        if problem:
            return fail(st, INVALID, f"{where}: {problem}")
        signing_key = _key(name, raw_key, private=True)
        if isinstance(signing_key, str):
            return fail(st, INVALID, f"{where}: {signing_key}")
        try:
            return _jws().encode(dumps(claims).encode("utf-8"), signing_key, algorithm=name), None
        except (PyJWTError, EncodeError, ValueError, TypeError) as exc:
            return fail(st, INVALID, f"{where}: {exc}")

    def verify(token: Any = None, key: Any = None, alg: Any = None, require_exp: Any = None, *_: Any) -> Any:
        from jwt.exceptions import PyJWTError

        from .json import loads

        where = "crypto.jwt.verify"
        raw = as_bytes(token, f"{where}: argument #1")
        raw_key = as_bytes(key, f"{where}: argument #2")
        name = _algorithm(alg, where)
        if name not in ALGORITHMS:
            return fail(st, INVALID, f"{where}: unsupported algorithm {name!r} (use one of {', '.join(ALGORITHMS)})")
        if not raw:
            return fail(st, INVALID, f"{where}: token is empty")
        verifying_key = _key(name, raw_key, private=False)
        if isinstance(verifying_key, str):
            return fail(st, INVALID, f"{where}: {verifying_key}")
        try:
            decoded = _jws().decode_complete(raw, verifying_key, algorithms=[name])
            claims = loads(decoded["payload"])
        except PyJWTError as exc:
            return fail(st, INVALID, f"{where}: {exc}")
        except (ValueError, UnicodeDecodeError):
            return fail(st, INVALID, f"{where}: the token's payload is not JSON")
        if not isinstance(claims, dict):
            return fail(st, INVALID, f"{where}: the token's payload is not a JSON object of claims")
        problem = _validity_problem(claims, host_of(st).now_ns() / 1e9, require_exp is not False)
        if problem:
            return fail(st, INVALID, f"{where}: {problem}")
        try:
            return to_lua(st.lua, claims), None
        except EncodeError as exc:  # claims nested deeper than a Lua value may be
            return fail(st, INVALID, f"{where}: claims: {exc}")

    return {"encode": pyfn(st, encode, 2), "verify": pyfn(st, verify, 1, 2)}
