"""Helpers shared by the module installers (not a Lua module itself)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from importlib import resources
from typing import Any

import lupa.lua54 as lupa54

from ...errors import BudgetExceeded, Failure, MemoryLimitExceeded
from ..context import HostContext
from ..convert import LuaState, make_error_object


class ArgError(Exception):
    """A programming error in a call from Lua (wrong argument type...): raised as a Lua error
    (a plain string) at the caller, never returned as ``nil, err``."""


@functools.cache
def lua_source(name: str) -> str:
    return resources.files("duralua.lua.modules").joinpath(name).read_text(encoding="utf-8")


def type_name(value: Any) -> str:
    """The Lua type name of a value as Python sees it."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    kind = lupa54.lua_type(value)
    return str(kind) if kind else type(value).__name__


def pyfn(st: LuaState, fn: Callable[..., Any], *bytes_args: int) -> Any:
    """A Lua function calling ``fn``; an exception becomes a Lua error at the caller.

    String arguments at the 1-based positions ``bytes_args`` reach ``fn`` as ``bytes`` (raw
    bytes: binary Lua strings work too; they travel hex-encoded, valid UTF-8 travels as is);
    anywhere else a binary string is refused in Lua, before the call.

    Exceptions never travel into Lua as Python objects: their tracebacks hold the frames of
    the call, whose Lua arguments are tied to the calling coroutine, and Lua would free them
    only after that coroutine is gone (a crash in lupa). Only the message goes.
    """
    raise_token = st.raise_token

    def call(*args: Any) -> Any:
        try:
            return fn(*args)
        except ArgError as exc:
            return raise_token, str(exc)
        except (BudgetExceeded, MemoryLimitExceeded):
            raise
        except Exception as exc:
            return raise_token, f"{type(exc).__name__}: {exc}"

    if not bytes_args:
        return st.pyfn(call)

    def converted(args: tuple[Any, ...], decode: Callable[[str], bytes]) -> Any:
        out = list(args)
        for i in bytes_args:
            if i <= len(out) and isinstance(out[i - 1], str):
                out[i - 1] = decode(out[i - 1])
        return call(*out)

    def call_text(*args: Any) -> Any:
        return converted(args, _utf8)

    def call_hex(*args: Any) -> Any:
        return converted(args, bytes.fromhex)

    return st.pyfn_bytes(call_text, call_hex, *bytes_args)


def _utf8(text: str) -> bytes:
    return text.encode("utf-8")


def error_value(st: LuaState, kind: str, message: str, retryable: bool | None = False) -> Any:
    return make_error_object(st, Failure(message, kind, retryable))


def fail(st: LuaState, kind: str, message: str, retryable: bool | None = False) -> tuple[None, Any]:
    """The ``nil, err`` pair."""
    return None, error_value(st, kind, message, retryable)


def as_bytes(value: Any, what: str) -> bytes:
    """A raw-byte argument (see ``bytes_args`` of :func:`pyfn`)."""
    if isinstance(value, bytes):
        return value
    raise ArgError(f"{what}: string expected, got {type_name(value)}")


def opt_bytes(value: Any, what: str) -> bytes | None:
    return None if value is None else as_bytes(value, what)


def check_str(value: Any, what: str) -> str:
    if isinstance(value, str):
        return value
    raise ArgError(f"{what}: string expected, got {type_name(value)}")


def check_int(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise ArgError(f"{what}: number expected, got boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, float):
        raise ArgError(f"{what}: number has no integer representation")
    raise ArgError(f"{what}: number expected, got {type_name(value)}")


def module_table(st: LuaState, entries: dict[str, Any]) -> Any:
    return st.lua.table_from(entries)


def host_of(st: LuaState) -> HostContext:
    """The HostContext of the run now using the Lua state (set by every install)."""
    host = st.host
    if host is None:
        raise ArgError("this module needs a host context (install it first)")
    return host


def new_module(st: LuaState, key: str, build: Callable[[], dict[str, Any]]) -> Any:
    """A fresh module table (user code may add fields) from a per-runtime cached template."""
    template = st.cached(key, lambda: module_table(st, build()))
    return st.copy(template)
