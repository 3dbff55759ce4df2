"""The codec writes and reads through orjson where it can, and through json where only json
gets it right: the bytes and values must not depend on which one did the work."""

from __future__ import annotations

import json
import math
import random
import struct
from typing import Any

import pytest

from duralua import codec
from duralua.errors import EncodeError, Failure
from duralua.lua.convert import loads_exported

_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _float(rnd: random.Random) -> float:
    while True:
        kind = rnd.randrange(4)
        if kind == 0:
            f = struct.unpack("d", struct.pack("Q", rnd.getrandbits(64)))[0]
        elif kind == 1:
            f = rnd.uniform(-1e6, 1e6)
        elif kind == 2:
            f = rnd.random() * 10 ** rnd.randint(-30, 30)
        else:
            f = float(rnd.randint(-(2**60), 2**60)) / 10 ** rnd.randint(0, 25)
        if not (math.isnan(f) or math.isinf(f)):
            return f


def _text(rnd: random.Random) -> str:
    def char() -> str:
        pick = rnd.randrange(4)
        if pick == 0:
            return chr(rnd.randint(0, 0x7F))
        if pick == 1:
            return chr(rnd.randint(0x80, 0xD7FF))
        if pick == 2:
            return chr(rnd.randint(0xE000, 0x10FFFF))
        return rnd.choice(["e-", "0.0000", "__error", "9" * 20, '"', "\\", "\n", "\u2028"])

    return "".join(char() for _ in range(rnd.randint(0, 10)))


def _value(rnd: random.Random, depth: int = 0) -> Any:
    kind = rnd.randrange(9 if depth < 4 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rnd.random() < 0.5
    if kind == 2:
        return rnd.choice([0, -1, 2**53, 2**63 - 1, -(2**63), 2**63, 2**64 - 1, rnd.randint(-(10**12), 10**12)])
    if kind == 3:
        return _float(rnd)
    if kind in (4, 5):
        return _text(rnd)
    if kind in (6, 7):
        return {_text(rnd): _value(rnd, depth + 1) for _ in range(rnd.randint(0, 5))}
    return [_value(rnd, depth + 1) for _ in range(rnd.randint(0, 5))]


def test_encoding_is_byte_for_byte_json_canonical_form() -> None:
    rnd = random.Random(20261201)
    for _ in range(20_000):
        value = _value(rnd)
        expected = _JSON.encode(value)
        assert codec.dumps(value) == expected, value
        assert codec.encode(value, limit=None) == expected.encode("utf-8"), value


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1e-05, "1e-05"),  # orjson alone: 0.00001
        (7.974042475543028e-05, "7.974042475543028e-05"),  # orjson alone: 0.0000797...
        (1.5e-07, "1.5e-07"),  # orjson alone: 1.5e-7
        (1e16, "1e+16"),
        (2**64, "18446744073709551616"),  # beyond orjson's integers
        ({"b": 1, "a": [0.1, "e-"]}, '{"a":[0.1,"e-"],"b":1}'),
    ],
)
def test_values_orjson_writes_differently_still_read_as_json_writes_them(value: Any, text: str) -> None:
    assert codec.dumps(value) == text
    assert codec.encode(value, limit=None) == text.encode()


def test_encoding_errors_are_unchanged() -> None:
    with pytest.raises(EncodeError, match="NaN"):
        codec.encode([float("nan")])  # orjson alone: [null]
    with pytest.raises(EncodeError, match="NaN"):
        codec.encode({"x": None, "y": float("inf")})
    with pytest.raises(EncodeError, match="lone surrogate"):
        codec.encode("bad \ud800 text")
    with pytest.raises(EncodeError):
        codec.encode({"a": object()})
    assert codec.dumps({1: "x"}) == '{"1":"x"}'  # json turns such keys into strings; orjson refuses
    failure = Failure("boom", "internal", False)
    assert codec.decode(codec.encode({"e": failure, "pad": "x" * 80})) == {"e": failure, "pad": "x" * 80}


def test_decoding_matches_json_value_for_value() -> None:
    rnd = random.Random(7)
    for _ in range(20_000):
        value = _value(rnd)
        text = _JSON.encode(value)
        expected = json.loads(text, object_hook=codec._hook)
        for got in (codec.decode(text), codec.decode(text.encode())):
            assert got == expected
            # also: an int stays an int, a float a float
            assert repr(got) == repr(expected)
        assert repr(loads_exported(text)) == repr(json.loads(text))


@pytest.mark.parametrize(
    "text",
    [
        "[123456789012345678901234567890]",  # orjson alone: a float
        "[-9223372036854775809]",
        "[18446744073709551616]",
        '["\\ud800 a lone surrogate, read by json as it always was"]',
        "[NaN]",
        "[1e400]",
    ],
)
def test_texts_orjson_reads_differently_are_read_by_json(text: str) -> None:
    padded = text[:-1] + "," + json.dumps("x" * codec.FAST_MIN) + "]"  # long enough for the fast path
    expected = json.loads(padded)
    got = codec.decode(padded)
    assert repr(got) == repr(expected)
    assert repr(loads_exported(padded)) == repr(expected)


def test_error_objects_still_become_failures() -> None:
    encoded = {"__error": {"message": "no", "kind": "internal", "retryable": False}}
    text = json.dumps({"result": encoded, "pad": "x" * 100})
    out = codec.decode(text)
    assert isinstance(out["result"], Failure) and out["result"].message == "no"
    lua_export = '{"\\udfff":["internal","from lua",false,null,null]}'
    got = loads_exported('{"a":' + lua_export + ',"pad":"' + "x" * 100 + '"}')
    assert isinstance(got["a"], Failure) and got["a"].message == "from lua"


@pytest.mark.parametrize("name", ["memo", "search_attributes"])
def test_a_nan_in_memo_or_search_attributes_is_refused_where_it_comes_in(name: str) -> None:
    # Stored with dumps, which would write it as null: refused by the options' check instead.
    from duralua.core.options import OptionError, parse_workflow_options

    with pytest.raises(OptionError, match=rf"workflow\.{name}\.x: NaN"):
        parse_workflow_options({f"workflow.{name}": {"x": float("nan")}})


def test_encode_still_refuses_python_values_json_refuses() -> None:
    # A UUID or an enum would reach the workflow as an object on the first run and as text after
    # a replay: encode (the check where values come in) refuses them, as json does.
    import enum
    import uuid

    class Color(enum.Enum):
        RED = 1

    for value in (uuid.uuid4(), Color.RED):
        with pytest.raises(EncodeError):
            codec.encode({"v": value})


def test_hostile_nesting_is_read_as_json_reads_it() -> None:
    # orjson stops at 1,024 levels: such a text falls back to json, which answers as it always did.
    deep = "[" * 5000 + "]" * 5000
    for text in (deep, deep.encode()):
        with pytest.raises(RecursionError):
            json.loads(text)
        with pytest.raises(RecursionError):
            codec.decode(text)
    shallow = "[" * 900 + "]" * 900
    assert codec.decode(shallow) == json.loads(shallow)
