"""Wippy's typed Lua (typed-lua.md) on stock Lua 5.4: erase the types, keep their run-time part.

:func:`strip_types` replaces every annotation with spaces: line breaks stay where they were
(so Lua's error messages and ``location`` fields cite the original lines) and so do columns.
Plain Lua comes back unchanged. See :mod:`.scanner` for where type syntax is recognised and
:mod:`.types` for the type grammar.

:func:`prepare` is what the sandbox compiles: the stripped code plus what typed-lua.md §5
gives a run-time meaning -- the chunk's top-level ``type``/``interface`` declarations (as a
one-line Lua constructor, see :mod:`.spec`) and the call shapes ``Name(v)``, ``Name:is(v)``...
on type names not shadowed by a local, rewritten to ``__duralua_types.Name(v)``; the only
change a rewrite makes is inserting text on that line. ``duralua.lua.typed_runtime`` binds
``__duralua_types`` when it compiles the chunk.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from .lexer import lex
from .scanner import BUILTIN_TYPES, Scanner
from .spec import spec_source

__all__ = ["TYPES_NAME", "Prepared", "prepare", "strip_types", "tokenize"]

TYPES_NAME = "__duralua_types"

# A quick superset of the declared names (also ``mytype X``, or inside strings: harmless).
_DECLARED = re.compile(r"(?:type|interface)[ \t]+([A-Za-z_][A-Za-z0-9_]*)")
_NOT_BLANK = re.compile(r"[^\r\n]+")


class Prepared(NamedTuple):
    code: str  # stripped, with the type-value call sites rewritten
    spec: str | None  # the Lua constructor of the top-level types; None: no type values used


def tokenize(source: str) -> list[str]:
    """The tokens of ``source`` as the stripper sees them (comments dropped)."""
    return lex(source).t[:-3]


def strip_types(source: str) -> str:
    """``source`` with every type annotation replaced by spaces (line breaks kept)."""
    if not source:
        return source
    scan = Scanner(lex(source), frozenset())
    scan.run()
    return _blank(source, scan.blanks)


@lru_cache(maxsize=512)
def prepare(source: str) -> Prepared:
    """Strip ``source`` and find its run-time type uses (cached: the same source is compiled often)."""
    if not source:
        return Prepared(source, None)
    names = BUILTIN_TYPES | frozenset(_DECLARED.findall(source))
    scan = Scanner(lex(source), names)
    scan.run()
    if not set(scan.aliases) <= names:  # declared where the quick look missed it (``do type X = ...``)
        scan = Scanner(lex(source), names | frozenset(scan.aliases))
        scan.run()
    code = _blank(source, scan.blanks)
    known = BUILTIN_TYPES | set(scan.aliases)
    calls = [(at, name) for at, name in scan.calls if name in known]
    if not calls and not scan.aliases:
        return Prepared(code, None)
    pieces = []
    pos = 0
    for at, _ in calls:
        pieces.append(code[pos:at])
        pieces.append(TYPES_NAME + ".")
        pos = at
    pieces.append(code[pos:])
    return Prepared("".join(pieces), spec_source(scan.aliases))


def _spaces(m: re.Match[str]) -> str:
    return " " * len(m.group())


def _blank(source: str, blanks: list[tuple[int, int]]) -> str:
    if not blanks:
        return source
    out = []
    pos = 0
    for start, end in blanks:
        out.append(source[pos:start])
        part = source[start:end]
        out.append(_NOT_BLANK.sub(_spaces, part) if "\n" in part or "\r" in part else " " * len(part))
        pos = end
    out.append(source[pos:])
    return "".join(out)
