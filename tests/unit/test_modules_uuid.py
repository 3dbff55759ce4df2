"""The ``uuid`` module (spec lua-modules.md §10); v1/v4/v7 are recorded side effects."""

from __future__ import annotations

import hashlib
import os
import random
import re
import uuid as pyuuid
from collections.abc import Callable
from typing import Any

import lupa.lua54 as lupa54
import pytest

from duralua.lua.modules import MODULE_INSTALLERS

CANON = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
DNS = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"


def _refuse(obj: Any, name: Any, is_setting: bool) -> Any:
    raise AttributeError(name)


class RecordingContext:
    """Records side effects; answers from ``replay`` when given (like a workflow replay)."""

    deterministic = True

    def __init__(self, replay: dict[str, list[Any]] | None = None) -> None:
        self.replay = {k: list(v) for k, v in (replay or {}).items()}
        self.recorded: list[tuple[str, Any]] = []

    def now_ns(self) -> int:
        return 0

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
    lua.globals().uuid = MODULE_INSTALLERS["uuid"](lua, ctx)
    return lua


@pytest.fixture
def ctx() -> RecordingContext:
    return RecordingContext()


@pytest.fixture
def lua(ctx: RecordingContext) -> Any:
    return make(ctx)


def run(lua: Any, src: str) -> Any:
    return lua.execute(src, name="=user.lua")


@pytest.mark.parametrize(("fn", "version"), [("v1", 1), ("v4", 4), ("v7", 7)])
def test_generated_uuids_are_recorded(lua: Any, ctx: RecordingContext, fn: str, version: int) -> None:
    value, err = run(lua, f"return uuid.{fn}()")
    assert err is None and CANON.match(value)
    assert pyuuid.UUID(value).version == version
    assert pyuuid.UUID(value).variant == pyuuid.RFC_4122
    assert ctx.recorded == [(f"uuid.{fn}", value)]


def test_replay_returns_recorded_values() -> None:
    recorded = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
    lua = make(RecordingContext(replay={"uuid.v7": [recorded], "uuid.v4": ["x"]}))
    assert run(lua, "return uuid.v7()") == (recorded, None)


def test_v7_is_time_ordered(lua: Any) -> None:
    ids = [run(lua, "return uuid.v7()")[0] for _ in range(5)]
    stamps = [pyuuid.UUID(i).int >> 80 for i in ids]
    assert stamps == sorted(stamps)


def test_name_based(lua: Any) -> None:
    v5 = str(pyuuid.uuid5(pyuuid.NAMESPACE_DNS, "python.org"))
    v3 = str(pyuuid.uuid3(pyuuid.NAMESPACE_DNS, "python.org"))
    assert run(lua, f"return uuid.v5('{DNS}', 'python.org')") == (v5, None)
    assert run(lua, f"return uuid.v3('{DNS}', 'python.org')") == (v3, None)
    value, kind = run(lua, "local v, e = uuid.v5('not-a-uuid', 'x') return v, e:kind()")
    assert value is None and kind == "Invalid"
    assert run(lua, f"local v, e = uuid.v5('{DNS}', 5) return v, e:kind()") == (None, "Invalid")
    # binary names work
    got = run(lua, f"return uuid.v5('{DNS}', '\\xff\\x00')")[0]
    digest = hashlib.sha1(pyuuid.NAMESPACE_DNS.bytes + b"\xff\x00").digest()
    assert got == str(pyuuid.UUID(bytes=digest[:16], version=5))


def test_validate_version_variant(lua: Any) -> None:
    u = "f47ac10b-58cc-4372-a567-0e02b2c3d479"
    got = run(
        lua,
        f"return uuid.validate('{u}'), uuid.validate('{{{u}}}'), uuid.validate('urn:uuid:{u}'),"
        f" uuid.validate('{u.replace('-', '')}'), uuid.validate('nope'), uuid.validate(5),"
        " (uuid.validate(nil))",
    )
    assert got == (True, True, True, True, False, False, False)
    assert run(lua, f"return uuid.version('{u}')") == (4, None)
    assert run(lua, f"return uuid.variant('{u}')") == ("RFC4122", None)
    assert run(lua, "local v, e = uuid.version('zzz') return v, e:kind()") == (None, "Invalid")


def test_parse_and_format(lua: Any) -> None:
    u = "F47AC10B-58CC-4372-A567-0E02B2C3D479"
    got = run(lua, f"local p = uuid.parse('{u}') return p.uuid, p.version, p.variant, p.timestamp")
    assert got == (u.lower(), 4, "RFC4122", None)
    got = run(lua, f"return uuid.format('{u}'), uuid.format('{u}', 'simple'), (uuid.format('{u}', 'urn'))")
    assert got == (u.lower(), u.lower().replace("-", ""), "urn:uuid:" + u.lower())
    assert run(lua, f"local v, e = uuid.format('{u}', 'weird') return v, e:kind()") == (None, "Invalid")
    v7 = run(lua, "return uuid.v7()")[0]
    ts = run(lua, f"return uuid.parse('{v7}').timestamp")
    assert ts == pyuuid.UUID(v7).int >> 80


class SeededContext(RecordingContext):
    """Like a workflow: fixed clock and a PRNG seeded from the run's recorded seed."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        self._rng = random.Random(seed)

    def now_ns(self) -> int:
        return 1_700_000_000_000_000_000

    def random_bytes(self, n: int) -> bytes:
        return self._rng.randbytes(n)


def test_generated_uuids_replay_from_the_seed() -> None:
    src = "return uuid.v1(), uuid.v4(), uuid.v7(), (uuid.v4())"
    first = run(make(SeededContext(42)), src)
    again = run(make(SeededContext(42)), src)
    other = run(make(SeededContext(43)), src)
    assert first == again and first != other
    assert len(set(first)) == 4
    assert pyuuid.UUID(first[2]).int >> 80 == 1_700_000_000_000


@pytest.mark.parametrize("fn", ["version", "variant", "parse", "format"])
@pytest.mark.parametrize(("arg", "message"), [("nil", "UUID string expected, got nil"),
                                              ("{}", "UUID string expected, got table"),
                                              ("''", "invalid UUID ''")])  # fmt: skip
def test_invalid_uuid_arguments(lua: Any, fn: str, arg: str, message: str) -> None:
    assert run(lua, f"local v, e = uuid.{fn}({arg}) return v, e:kind(), e:message()") == (
        None,
        "Invalid",
        f"uuid.{fn}: {message}",
    )
    assert run(lua, f"return uuid.validate({arg})") == (False, None)


@pytest.mark.parametrize("call", ["uuid.v3(nil, 'x')", "uuid.v5('6ba7b811-9dad-11d1-80b4-00c04fd430c8')"])
def test_name_based_needs_strings(lua: Any, call: str) -> None:
    assert run(lua, f"local v, e = {call} return v, e:kind()") == (None, "Invalid")
