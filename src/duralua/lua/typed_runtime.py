"""Compile typed Lua: annotations erased, type values bound (typed-lua.md §5).

:func:`compile_chunk` is what :meth:`LuaSandbox.compile` calls. A chunk that neither declares
a top-level ``type``/``interface`` nor calls a builtin type value (``number(v)``,
``integer:is(v)``...) compiles exactly as the stripped source. Otherwise the chunk becomes::

    local __duralua_types = (...)(<spec>, _ENV) return function(...) <stripped code>
    end

all of the prefix on the chunk's first line (so no line moves). Loading that and calling it
with ``build`` from ``typed_runtime.lua`` returns the chunk's function with the types bound as
an upvalue user code cannot reach otherwise; the rewritten call sites of typestrip read it.
The extra trailing ``end`` would misplace the error of a source with unbalanced blocks, so a
wrapped chunk that does not compile is compiled again unwrapped to report the user's error.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import lupa.lua54 as lupa

from . import chunks
from .convert import state_of
from .typestrip import TYPES_NAME, prepare

if TYPE_CHECKING:
    from .sandbox import LuaSandbox

__all__ = ["compile_chunk"]

_SOURCE = resources.files("duralua.lua").joinpath("typed_runtime.lua").read_text(encoding="utf-8")


@lru_cache(maxsize=256)
def _regex(pattern: str | bytes) -> re.Pattern[Any] | None:
    try:
        return re.compile(pattern)
    except (re.error, TypeError, ValueError):
        return None


def _search(pattern: Any, value: Any) -> bool | None:
    """``@pattern(re)``: an unanchored search (Go's RE2 and Python's re agree on common syntax).

    ``None`` means the pattern is invalid. Strings that are not UTF-8 reach Python as bytes;
    then both sides are matched as bytes.
    """
    if isinstance(pattern, bytes) != isinstance(value, bytes):
        pattern = pattern if isinstance(pattern, bytes) else str(pattern).encode("utf-8")
        value = value if isinstance(value, bytes) else str(value).encode("utf-8")
    compiled = _regex(pattern)
    if compiled is None:
        return None
    return compiled.search(value) is not None


def _builder(sandbox: LuaSandbox) -> Any:
    lua = sandbox.lua
    state = state_of(lua)
    return state.cached(
        "typed_runtime",
        # under the prelude's chunk name: error locations skip its frames like the prelude's
        lambda: chunks.run(lua, _SOURCE, "=prelude", state.core.error_here, _search, sandbox._priv.type),
    )


def _wrap(spec: str, code: str) -> str:
    return f"local {TYPES_NAME} = (...)({spec}, _ENV) return function(...) {code}\nend"


def compile_chunk(sandbox: LuaSandbox, source: str, chunkname: str, env: Any, first_line: int = 1) -> tuple[Any, Any]:
    """``(function, None)`` or ``(None, Lua's error message)`` for user ``source``."""
    prepared = prepare(source)
    code = prepared.code
    if first_line > 1:
        code = "\n" * (first_line - 1) + code
    compile_ = sandbox._priv.compile
    if prepared.spec is None:
        return compile_(code, chunkname, env)  # type: ignore[no-any-return]
    outer, _ = compile_(_wrap(prepared.spec, code), chunkname, env)
    if outer is None:
        fn, err = compile_(code, chunkname, env)
        if fn is None:
            return None, err
        # the user's code compiles: the declarations are too deeply nested for Lua's parser
        outer, err = compile_(_wrap("{}", code), chunkname, env)
        if outer is None:
            return None, err
    try:
        return outer(_builder(sandbox)), None
    except lupa.LuaError as exc:  # a bug of ours, reported as the chunk's load error
        return None, f"{chunkname.lstrip('@=')}:1: type declarations: {exc}"
