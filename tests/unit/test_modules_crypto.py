"""The ``crypto``, ``hash`` and ``base64`` modules (spec lua-modules.md §11; Wippy hash/base64)."""

from __future__ import annotations

import base64 as pybase64
import hashlib
import hmac
import os
import zlib
from collections.abc import Callable
from typing import Any

import lupa.lua54 as lupa54
import pytest

from duralua.lua.modules import MODULE_INSTALLERS


def _refuse(obj: Any, name: Any, is_setting: bool) -> Any:
    raise AttributeError(name)


class RecordingContext:
    deterministic = True

    def __init__(self, replay: dict[str, list[Any]] | None = None, now_s: int = 0) -> None:
        self.replay = {k: list(v) for k, v in (replay or {}).items()}
        self.recorded: list[tuple[str, Any]] = []
        self.now_s = now_s

    def now_ns(self) -> int:
        return self.now_s * 1_000_000_000

    def monotonic_s(self) -> float:
        return 0.0

    def random_bytes(self, n: int) -> bytes:
        return os.urandom(n)

    def side_effect(self, name: str, produce: Callable[[], Any]) -> Any:
        value = self.replay[name].pop(0) if self.replay.get(name) else produce()
        self.recorded.append((name, value))
        return value


def make(ctx: Any) -> Any:
    lua = lupa54.LuaRuntime(
        register_eval=False, register_builtins=False, unpack_returned_tuples=True, attribute_filter=_refuse
    )
    g = lua.globals()
    for name in ("crypto", "hash", "base64", "errors"):
        g[name] = MODULE_INSTALLERS[name](lua, ctx)
    # binary results are checked through a hex view computed in Lua
    lua.execute("function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end")
    return lua


@pytest.fixture
def ctx() -> RecordingContext:
    return RecordingContext()


@pytest.fixture
def lua(ctx: RecordingContext) -> Any:
    return make(ctx)


def run(lua: Any, src: str) -> Any:
    return lua.execute(src, name="=user.lua")


# ---------------------------------------------------------------------------------------------
# crypto
# ---------------------------------------------------------------------------------------------


def test_random_bytes_recorded_as_base64(lua: Any, ctx: RecordingContext) -> None:
    n, hexed = run(lua, "local b = crypto.random.bytes(16) return #b, hex(b)")
    assert n == 16
    assert ctx.recorded[0][0] == "crypto.random.bytes"
    assert pybase64.b64decode(ctx.recorded[0][1]).hex() == hexed


def test_random_replay() -> None:
    lua = make(
        RecordingContext(
            replay={
                "crypto.random.bytes": [pybase64.b64encode(b"\x00\xffab").decode()],
                "crypto.random.string": [pybase64.b64encode(b"XYZ").decode()],
                "crypto.random.uuid": ["f47ac10b-58cc-4372-a567-0e02b2c3d479"],
            }
        )
    )
    assert run(lua, "return hex(crypto.random.bytes(4))") == "00ff6162"
    assert run(lua, "return crypto.random.string(3)") == ("XYZ", None)
    assert run(lua, "return crypto.random.uuid()") == ("f47ac10b-58cc-4372-a567-0e02b2c3d479", None)


def test_random_string_charset(lua: Any, ctx: RecordingContext) -> None:
    s, _ = run(lua, "return crypto.random.string(200)")
    assert len(s) == 200 and s.isalnum()
    s, _ = run(lua, "return crypto.random.string(50, 'ab')")
    assert set(s) <= {"a", "b"}
    assert [name for name, _ in ctx.recorded] == ["crypto.random.string", "crypto.random.string"]


@pytest.mark.parametrize(
    "call",
    [
        "crypto.random.bytes(0)",
        "crypto.random.bytes(-1)",
        "crypto.random.bytes(1024 * 1024 + 1)",
        "crypto.random.bytes(math.maxinteger)",
        "crypto.random.string(0)",
        "crypto.random.string(-5)",
        "crypto.random.string(1024 * 1024 + 1)",
        "crypto.random.string(8, '')",
    ],
)
def test_random_bounds(lua: Any, ctx: RecordingContext, call: str) -> None:
    assert run(lua, f"local v, e = {call} return v, e:kind()") == (None, "Invalid")
    assert ctx.recorded == []


def test_random_uuid(lua: Any) -> None:
    value, err = run(lua, "return crypto.random.uuid()")
    assert err is None and len(value) == 36 and value[14] == "4"


def test_hmac(lua: Any) -> None:
    msg = "The quick brown fox jumps over the lazy dog"
    assert run(lua, f"return crypto.hmac.sha256('key', '{msg}')") == (
        "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8",
        None,
    )
    assert run(lua, "return crypto.hmac.sha512('k', 'd')")[0] == hmac.new(b"k", b"d", "sha512").hexdigest()
    assert run(lua, "local v, e = crypto.hmac.sha256('', 'd') return v, e:kind()") == (None, "Invalid")
    assert (
        run(lua, "return crypto.hmac.sha256('\\xff', '\\x00')")[0] == hmac.new(b"\xff", b"\x00", "sha256").hexdigest()
    )


def test_pbkdf2(lua: Any) -> None:
    assert run(lua, "return hex(crypto.pbkdf2('password', 'salt', 1, 32))") == (
        "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b"
    )
    expected = hashlib.pbkdf2_hmac("sha512", b"pw", b"salt", 10, 16).hex()
    assert run(lua, "return hex(crypto.pbkdf2('pw', 'salt', 10, 16, 'sha512'))") == expected
    assert run(lua, "local v, e = crypto.pbkdf2('pw', 'salt', 10, 16, 'md5') return v, e:kind()") == (
        None,
        "Invalid",
    )
    assert run(lua, "local v, e = crypto.pbkdf2('pw', 'salt', 0, 16) return v, e:kind()") == (None, "Invalid")


@pytest.mark.parametrize(
    ("call", "part"),
    [
        ("crypto.pbkdf2('', 'salt', 1, 16)", "password must not be empty"),
        ("crypto.pbkdf2('pw', '', 1, 16)", "salt must not be empty"),
        ("crypto.pbkdf2('pw', 'salt', -1, 16)", "iterations must be positive"),
        ("crypto.pbkdf2('pw', 'salt', 1, 0)", "key length between 1 and"),
        ("crypto.pbkdf2('pw', 'salt', 1, -16)", "key length between 1 and"),
        ("crypto.pbkdf2('pw', 'salt', 1, 1024 * 1024 + 1)", "key length between 1 and"),
        # work that would stall the runtime's thread for minutes
        ("crypto.pbkdf2('pw', 'salt', 10000001, 32)", "exceed 10000000"),
        ("crypto.pbkdf2('pw', 'salt', 1000000, 32 * 11)", "(1000000 x 11) exceed"),
        ("crypto.pbkdf2('pw', 'salt', 1, 16, '')", "unsupported hash ''"),
    ],
)
def test_pbkdf2_invalid(lua: Any, call: str, part: str) -> None:
    value, kind, msg = run(lua, f"local v, e = {call} return v, e:kind(), e:message()")
    assert (value, kind) == (None, "Invalid") and part in msg, msg


def test_constant_time_compare(lua: Any) -> None:
    assert run(
        lua,
        "return crypto.constant_time_compare('abc', 'abc'), crypto.constant_time_compare('abc', 'abd'),"
        " crypto.constant_time_compare('\\xff', '\\xff')",
    ) == (True, False, True)


@pytest.mark.parametrize(
    ("call", "part"),
    [
        ("crypto.hmac.sha256({}, 'x')", "crypto.hmac.sha256: argument #1: string expected, got table"),
        ("crypto.hmac.sha512('k')", "crypto.hmac.sha512: argument #2: string expected, got nil"),
        ("crypto.random.bytes()", "crypto.random.bytes: argument #1: number expected, got nil"),
        ("crypto.random.bytes('8')", "crypto.random.bytes: argument #1: number expected, got string"),
        ("crypto.random.bytes(1.5)", "crypto.random.bytes: argument #1: number has no integer representation"),
        ("crypto.random.string(4, 5)", "crypto.random.string: argument #2: string expected, got number"),
        ("crypto.pbkdf2(nil, 'salt', 1, 16)", "crypto.pbkdf2: argument #1: string expected, got nil"),
        ("crypto.pbkdf2('pw', 'salt', '1', 16)", "crypto.pbkdf2: argument #3: number expected, got string"),
        ("crypto.pbkdf2('pw', 'salt', 1, 16, 256)", "crypto.pbkdf2: argument #5: string expected, got number"),
        ("crypto.constant_time_compare('a')", "crypto.constant_time_compare: argument #2: string expected"),
    ],
)
def test_wrong_argument_types_raise(lua: Any, call: str, part: str) -> None:
    ok, msg = run(lua, f"return pcall(function() local v = {call} return v end)")
    assert ok is False and msg.startswith(f"user.lua:1: {part}"), msg


def test_empty_inputs_that_are_valid(lua: Any) -> None:
    # empty data has a MAC, and empty strings compare equal
    assert run(lua, "return crypto.hmac.sha256('k', '')")[0] == hmac.new(b"k", b"", "sha256").hexdigest()
    assert run(lua, "return crypto.constant_time_compare('', ''), crypto.constant_time_compare('', 'a')") == (
        True,
        False,
    )


# ---------------------------------------------------------------------------------------------
# hash
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["md5", "sha1", "sha256", "sha512"])
def test_digests(lua: Any, name: str) -> None:
    assert run(lua, f"return hash.{name}('abc')") == (hashlib.new(name, b"abc").hexdigest(), None)
    assert run(lua, f"return hex((hash.{name}('\\x00\\xff', true)))") == hashlib.new(name, b"\x00\xff").hexdigest()
    assert run(lua, f"return hash.hmac_{name}('data', 'secret')")[0] == hmac.new(b"secret", b"data", name).hexdigest()


def test_fnv_and_crc(lua: Any) -> None:
    got = run(lua, "return hash.fnv32('a'), hash.fnv32a('a'), hash.fnv64('a'), (hash.fnv64a('a'))")
    assert got == (0x050C5D7E, 0xE40C292C, 0xAF63BD4C8601B7BE - 2**64, 0xAF63DC4C8601EC8C - 2**64)
    assert run(lua, "return hash.crc32('abc')") == (zlib.crc32(b"abc"), None)


# ---------------------------------------------------------------------------------------------
# base64
# ---------------------------------------------------------------------------------------------


def test_base64(lua: Any) -> None:
    assert run(lua, "return base64.encode('hello')") == "aGVsbG8="
    assert run(lua, "return base64.decode('aGVsbG8=')") == ("hello", None)
    assert run(lua, "local s = '\\0\\255ab' return base64.decode(base64.encode(s)) == s") is True
    assert run(lua, "local v, e = base64.decode('***') return v, e:kind()") == (None, "Invalid")
    assert run(lua, "return base64.url_encode('\\251\\255')") == "-_8"
    assert run(lua, "return hex((base64.url_decode('-_8'))), hex((base64.url_decode('-_8=')))") == (
        "fbff",
        "fbff",
    )
    assert run(lua, "local v, e = base64.url_decode('a+b') return v, e:kind()") == (None, "Invalid")
