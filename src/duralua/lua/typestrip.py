"""Remove Wippy's gradual type syntax so that stock Lua 5.4 can compile the source.

Wippy sources may carry Luau-like annotations::

    type Order = { id: string, items: {Item}?, total: number }
    local function total(o: Order, tax: number?): (number, error?)
        local seen: {[string]: boolean} = {}
        return (o.total as number) * (1 + (tax or 0)), nil
    end

:func:`strip_types` replaces every annotation with spaces. Line breaks stay exactly where they
were (so Lua's error messages keep pointing at the right line) and, since only the annotation
characters are blanked, columns stay right as well.

The stripper is a small Lua lexer plus a context-aware scanner, not a set of regexes: strings,
long brackets and comments are never touched, ``obj:method()`` and ``::label::`` are not
annotations, and ``type``/``as`` remain ordinary names where Lua syntax makes them names
(``type(x)``, ``local type = 1``, ``msg.type``, ``t.as``). Annotations appear only in places
where plain Lua cannot have anything else:

* after a name in ``local`` and ``for`` name lists and in function parameter lists;
* after the parameter list of a function (return type) and between a function's name and its
  parameter list (generic parameters ``<T>``);
* a statement beginning ``type Name =``/``type Name<`` or ``export type Name`` (type alias);
* ``expr as Type`` right after a complete expression.

When an annotation cannot be parsed it is left alone, so Lua reports the syntax error at the
right place instead of the stripper guessing.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["strip_types"]

KEYWORDS = frozenset(
    {
        "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if",
        "in", "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
    }
)  # fmt: skip

# Multi-character operators, longest first.
_OPS3 = ("...",)
_OPS2 = ("..", "::", "==", "~=", "<=", ">=", "<<", ">>", "//")

_NAME_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_NAME_CHARS = _NAME_START | frozenset("0123456789")
_DIGITS = frozenset("0123456789")
_SPACE = frozenset(" \t\r\n\v\f")


class Token(NamedTuple):
    kind: str  # "name", "kw", "num", "str", "op", "eof"
    value: str
    start: int
    end: int
    line: int


def _long_bracket_level(src: str, i: int) -> int:
    """If ``src[i:]`` opens a long bracket (``[[``, ``[==[``), return its level, else -1."""
    j = i + 1
    n = len(src)
    while j < n and src[j] == "=":
        j += 1
    if j < n and src[j] == "[":
        return j - i - 1
    return -1


def tokenize(src: str) -> list[Token]:
    """Lex Lua 5.4 source (plus the ``?`` of type syntax). Comments and blanks are dropped.

    Malformed input never raises: an unterminated string or long bracket ends the token list
    (Lua itself will report the error with the right line).
    """
    toks: list[Token] = []
    n = len(src)
    i = 0
    line = 1
    if src.startswith("#"):  # shebang line
        while i < n and src[i] not in "\r\n":
            i += 1
    while i < n:
        c = src[i]
        if c in _SPACE:
            if c == "\n" or (c == "\r" and not (i + 1 < n and src[i + 1] == "\n")):
                line += 1
            i += 1
            continue
        start = i
        if c == "-" and src.startswith("--", i):
            i += 2
            if i < n and src[i] == "[":
                level = _long_bracket_level(src, i)
                if level >= 0:
                    close = "]" + "=" * level + "]"
                    end = src.find(close, i)
                    if end < 0:
                        return toks
                    end += len(close)
                    line += _count_lines(src, i, end)
                    i = end
                    continue
            while i < n and src[i] not in "\r\n":
                i += 1
            continue
        if c in _NAME_START:
            i += 1
            while i < n and src[i] in _NAME_CHARS:
                i += 1
            word = src[start:i]
            toks.append(Token("kw" if word in KEYWORDS else "name", word, start, i, line))
            continue
        if c in _DIGITS or (c == "." and i + 1 < n and src[i + 1] in _DIGITS):
            expo = "eE"
            if c == "0" and i + 1 < n and src[i + 1] in "xX":
                expo = "pP"
                i += 2
            while i < n:
                ch = src[i]
                if ch in expo and i + 1 < n and src[i + 1] in "+-":
                    i += 2
                elif ch in _NAME_CHARS or ch == ".":
                    i += 1
                else:
                    break
            toks.append(Token("num", src[start:i], start, i, line))
            continue
        if c in "\"'":
            i += 1
            first_line = line
            while i < n:
                ch = src[i]
                if ch == "\\":
                    if i + 1 < n and src[i + 1] == "\n":
                        line += 1
                    elif i + 1 < n and src[i + 1] == "\r":
                        line += 1
                        if i + 2 < n and src[i + 2] == "\n":
                            i += 1
                    i += 2
                    continue
                if ch in "\r\n":
                    return toks  # unterminated string: let Lua report it
                i += 1
                if ch == c:
                    break
            else:
                return toks
            toks.append(Token("str", src[start:i], start, i, first_line))
            continue
        if c == "[":
            level = _long_bracket_level(src, i)
            if level >= 0:
                close = "]" + "=" * level + "]"
                end = src.find(close, i)
                if end < 0:
                    return toks
                end += len(close)
                toks.append(Token("str", src[start:end], start, end, line))
                line += _count_lines(src, i, end)
                i = end
                continue
        for op in _OPS3:
            if src.startswith(op, i):
                break
        else:
            op = ""
            for cand in _OPS2:
                if src.startswith(cand, i):
                    op = cand
                    break
        if not op:
            op = c
        i += len(op)
        toks.append(Token("op", op, start, i, line))
    return toks


def _count_lines(src: str, start: int, end: int) -> int:
    chunk = src[start:end]
    return chunk.count("\n") + chunk.count("\r") - chunk.count("\r\n")


class _NoType(Exception):
    """The tokens at this position are not a type expression we understand."""


_EOF = Token("eof", "", -1, -1, -1)

# Tokens after which a new statement may begin (a previous statement or block header ended).
_STMT_BEFORE_OPS = frozenset({";", ")", "]", "}", "...", "::"})
_STMT_BEFORE_KWS = frozenset({"end", "do", "then", "else", "repeat", "break", "true", "false", "nil"})
# Tokens that end an expression (so a following ``as`` is a cast).
_EXPR_END_OPS = frozenset({")", "]", "}", "..."})
_EXPR_END_KWS = frozenset({"true", "false", "nil"})


class _Stripper:
    def __init__(self, src: str) -> None:
        self.src = src
        self.toks = tokenize(src)
        self.blanks: list[tuple[int, int]] = []

    # -- token helpers ---------------------------------------------------------------------------

    def tok(self, i: int) -> Token:
        return self.toks[i] if 0 <= i < len(self.toks) else _EOF

    def is_op(self, i: int, value: str) -> bool:
        t = self.tok(i)
        return t.kind == "op" and t.value == value

    def is_kw(self, i: int, value: str) -> bool:
        t = self.tok(i)
        return t.kind == "kw" and t.value == value

    def is_name(self, i: int) -> bool:
        return self.tok(i).kind == "name"

    def blank(self, start_tok: int, end_tok: int) -> None:
        """Blank tokens ``start_tok`` .. ``end_tok - 1`` (and whatever lies between them)."""
        if end_tok <= start_tok:
            return
        self.blanks.append((self.toks[start_tok].start, self.toks[end_tok - 1].end))

    def split_first(self, i: int) -> None:
        """Token ``i`` is ``>>`` or ``>=``: keep its first ``>`` as token i, the rest as i+1."""
        t = self.toks[i]
        first = Token("op", t.value[0], t.start, t.start + 1, t.line)
        rest = Token("op", t.value[1:], t.start + 1, t.end, t.line)
        self.toks[i : i + 1] = [first, rest]

    def close_angle(self, i: int) -> int:
        """Expect a ``>`` at ``i`` (splitting ``>>``/``>=``); return the index after it."""
        t = self.tok(i)
        if t.kind == "op" and t.value in (">>", ">="):
            self.split_first(i)
            return i + 1
        if t.kind == "op" and t.value == ">":
            return i + 1
        raise _NoType

    # -- main scan -------------------------------------------------------------------------------

    def run(self) -> str:
        i = 0
        while i < len(self.toks):
            t = self.toks[i]
            if t.kind == "kw":
                if t.value == "function":
                    i = self.function(i)
                    continue
                if t.value == "local":
                    i = self.local(i)
                    continue
                if t.value == "for":
                    i = self.name_list(i + 1)
                    continue
            elif t.kind == "name":
                if t.value in ("type", "export") and self.stmt_start(i):
                    j = self.alias(i)
                    if j is not None:
                        i = j
                        continue
                elif t.value == "as" and self.is_cast(i):
                    j = self.cast(i)
                    if j is not None:
                        i = j
                        continue
            i += 1
        return self.apply()

    def apply(self) -> str:
        if not self.blanks:
            return self.src
        out = list(self.src)
        for start, end in self.blanks:
            for k in range(start, end):
                if out[k] not in "\r\n":
                    out[k] = " "
        return "".join(out)

    def stmt_start(self, i: int) -> bool:
        if i == 0:
            return True
        p = self.toks[i - 1]
        if p.kind in ("name", "num", "str"):
            return True
        if p.kind == "kw":
            return p.value in _STMT_BEFORE_KWS
        return p.value in _STMT_BEFORE_OPS

    def is_cast(self, i: int) -> bool:
        if i == 0:
            return False
        p = self.toks[i - 1]
        ends_expr = (
            p.kind in ("name", "num", "str")
            or (p.kind == "kw" and p.value in _EXPR_END_KWS)
            or (p.kind == "op" and p.value in _EXPR_END_OPS)
        )
        if not ends_expr:
            return False
        nxt = self.tok(i + 1)
        if nxt.kind == "name" or (nxt.kind == "kw" and nxt.value in ("nil", "true", "false")):
            return True  # ``expr as T`` (``x\nas y`` is not Lua either way)
        if nxt.kind == "str" or (nxt.kind == "op" and nxt.value in ("(", "{")):
            # ``f()\nas(x)`` is a call of a function named ``as``; a cast sits on one line
            return self.tok(i).line == p.line
        return False

    # -- constructs ------------------------------------------------------------------------------

    def function(self, i: int) -> int:
        """``function [name{.name}[:name]] [<generics>] (params) [: rettype]``."""
        j = i + 1
        if self.is_name(j):
            j += 1
            while self.is_op(j, ".") and self.is_name(j + 1):
                j += 2
            if self.is_op(j, ":") and self.is_name(j + 1):
                j += 2
        if self.is_op(j, "<"):
            end = self.generic_params(j)
            if end is None:
                return j
            self.blank(j, end)
            j = end
        if not self.is_op(j, "("):
            return j
        after = self.params(j)
        if after is None:
            return i + 1
        j = after
        if self.is_op(j, ":"):
            try:
                end = self.type_(j + 1)
                while self.is_op(end, ","):  # ``: string, error?`` without parentheses
                    end = self.type_(end + 1)
            except _NoType:
                return j
            self.blank(j, end)
            j = end
        return j

    def params(self, j: int) -> int | None:
        """Parameter list at ``(``; blank annotations; return the index after ``)``."""
        j += 1
        if self.is_op(j, ")"):
            return j + 1
        while True:
            if self.is_name(j) or self.is_op(j, "..."):
                j += 1
            else:
                return None
            if self.is_op(j, ":"):
                try:
                    end = self.type_(j + 1)
                except _NoType:
                    return None
                self.blank(j, end)
                j = end
            if self.is_op(j, ","):
                j += 1
                continue
            if self.is_op(j, ")"):
                return j + 1
            return None

    def local(self, i: int) -> int:
        if self.is_kw(i + 1, "function"):
            return self.function(i + 1)
        return self.name_list(i + 1)

    def name_list(self, j: int) -> int:
        """``name [attrib] [: type] {, ...}`` of ``local`` and ``for``."""
        while self.is_name(j):
            j = self.attrib(j + 1)
            if self.is_op(j, ":"):
                try:
                    end = self.type_(j + 1)
                except _NoType:
                    return j
                self.blank(j, end)
                j = self.attrib(end)
            if not self.is_op(j, ","):
                break
            j += 1
        return j

    def attrib(self, j: int) -> int:
        if self.is_op(j, "<") and self.is_name(j + 1) and self.is_op(j + 2, ">"):
            return j + 3
        return j

    def alias(self, i: int) -> int | None:
        """``[export] type Name [<params>] = Type`` (the whole statement goes)."""
        j = i
        if self.tok(i).value == "export":
            if not (self.is_name(i + 1) and self.tok(i + 1).value == "type"):
                return None
            j = i + 1
        if not self.is_name(j + 1):
            return None
        k = j + 2
        if self.is_op(k, "<"):
            end = self.generic_params(k)
            if end is None:
                return None
            k = end
        if not self.is_op(k, "="):
            return None
        try:
            end = self.type_(k + 1)
        except _NoType:
            return None
        if self.is_op(end, ";"):
            end += 1
        self.blank(i, end)
        return end

    def cast(self, i: int) -> int | None:
        try:
            end = self.type_(i + 1)
        except _NoType:
            return None
        self.blank(i, end)
        return end

    def generic_params(self, j: int) -> int | None:
        """``<T, U...>`` / ``<T = default>`` at ``<``; return the index after ``>``."""
        k = j + 1
        try:
            while True:
                if not self.is_name(k):
                    return None
                k += 1
                if self.is_op(k, "..."):
                    k += 1
                if self.is_op(k, ":"):  # constraint
                    k = self.type_(k + 1)
                if self.is_op(k, "="):  # default
                    k = self.type_(k + 1)
                if self.is_op(k, ","):
                    k += 1
                    continue
                return self.close_angle(k)
        except _NoType:
            return None

    # -- types -----------------------------------------------------------------------------------

    def type_(self, j: int) -> int:
        if self.tok(j).kind == "op" and self.tok(j).value in ("|", "&"):
            j += 1
        j = self.postfix(j)
        while self.tok(j).kind == "op" and self.tok(j).value in ("|", "&"):
            j = self.postfix(j + 1)
        return j

    def postfix(self, j: int) -> int:
        j = self.primary(j)
        while True:
            if self.is_op(j, "?"):
                j += 1
            elif self.is_op(j, "[") and self.is_op(j + 1, "]"):
                j += 2
            elif self.is_op(j, "...") and self.tok(j - 1).kind == "name":  # generic pack ``T...``
                j += 1
            else:
                return j

    def primary(self, j: int) -> int:
        t = self.tok(j)
        if t.kind == "name":
            j += 1
            while self.is_op(j, ".") and self.tok(j + 1).kind in ("name", "kw"):
                j += 2
            if self.is_op(j, "<"):
                j = self.type_args(j)
            elif t.value == "typeof" and self.is_op(j, "("):
                j = self.balanced(j, "(", ")")
            return j
        if t.kind == "kw":
            if t.value in ("nil", "true", "false"):
                return j + 1
            if t.value == "function" and self.is_op(j + 1, "("):
                j = self.type_list(j + 1)
                if self.is_op(j, ":"):
                    j = self.type_(j + 1)
                return j
            raise _NoType
        if t.kind in ("str", "num"):
            return j + 1
        if t.kind == "op":
            if t.value == "-" and self.tok(j + 1).kind == "num":  # negative literal type
                return j + 2
            if t.value == "...":
                j += 1
                if self.type_starts(j):
                    j = self.type_(j)
                return j
            if t.value == "{":
                return self.table_type(j)
            if t.value == "(":
                j = self.type_list(j)
                if self.is_arrow(j):
                    j = self.type_(j + 2)
                return j
        raise _NoType

    def type_starts(self, j: int) -> bool:
        t = self.tok(j)
        if t.kind in ("name", "str", "num"):
            return True
        if t.kind == "kw":
            return t.value in ("nil", "true", "false", "function")
        return t.kind == "op" and t.value in ("{", "(", "...")

    def is_arrow(self, j: int) -> bool:
        a, b = self.tok(j), self.tok(j + 1)
        return a.kind == "op" and a.value == "-" and b.kind == "op" and b.value[:1] == ">" and a.end == b.start

    def type_args(self, j: int) -> int:
        """``<T, U>`` after a type name."""
        j += 1
        if self.tok(j).kind == "op" and self.tok(j).value in (">", ">>", ">="):
            return self.close_angle(j)
        while True:
            j = self.type_(j)
            if self.is_op(j, ","):
                j += 1
                continue
            return self.close_angle(j)

    def type_list(self, j: int) -> int:
        """``( [name:] T, ...: T, ... )`` — a parenthesised type, a tuple or function params."""
        j += 1
        if self.is_op(j, ")"):
            return j + 1
        while True:
            named = self.tok(j).kind in ("name", "kw") or self.is_op(j, "...")
            j = self.type_(j + 2 if named and self.is_op(j + 1, ":") else j)
            if self.is_op(j, ","):
                j += 1
                continue
            if self.is_op(j, ")"):
                return j + 1
            raise _NoType

    def table_type(self, j: int) -> int:
        """``{ name: T, [K]: V, T }`` (fields separated by ``,`` or ``;``)."""
        j += 1
        while not self.is_op(j, "}"):
            if self.is_op(j, "["):
                j = self.type_(j + 1)
                if not (self.is_op(j, "]") and self.is_op(j + 1, ":")):
                    raise _NoType
                j = self.type_(j + 2)
            elif self.tok(j).kind in ("name", "kw") and self.is_op(j + 1, ":"):
                j = self.type_(j + 2)
            else:
                j = self.type_(j)
            if self.tok(j).kind == "op" and self.tok(j).value in (",", ";"):
                j += 1
            elif not self.is_op(j, "}"):
                raise _NoType
        return j + 1

    def balanced(self, j: int, open_: str, close: str) -> int:
        depth = 0
        while j < len(self.toks):
            if self.is_op(j, open_):
                depth += 1
            elif self.is_op(j, close):
                depth -= 1
                if depth == 0:
                    return j + 1
            j += 1
        raise _NoType


def strip_types(source: str) -> str:
    """Return ``source`` with every type annotation replaced by spaces (line breaks kept)."""
    if not source:
        return source
    return _Stripper(source).run()
