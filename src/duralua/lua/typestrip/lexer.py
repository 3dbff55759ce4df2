"""A Lua 5.4 lexer extended with the tokens of Wippy's type syntax (typed-lua.md §2).

Speed matters more than elegance here: every user source goes through it once per process,
and a 2,000-line file must strip in a few milliseconds. So the whole source is split by one
regular expression in C (``re.split`` keeps the separators, which are the tokens) and token
offsets come from a running sum of the piece lengths; Python never looks at single characters.

Tokens are plain strings; their kind follows from their first character (see the ``is_*``
helpers). Comments are dropped; whitespace never appears. A long bracket level above 3, an
unterminated string or long bracket stops the token list there: Lua itself will report the
error (at the right line, since the stripper never moves lines).
"""

from __future__ import annotations

import re
from itertools import accumulate

__all__ = ["KEYWORDS", "Tokens", "is_name", "is_number", "is_string", "lex"]

KEYWORDS = frozenset(
    {
        "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if",
        "in", "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
    }
)  # fmt: skip

NAME_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
DIGITS = frozenset("0123456789")

# Long brackets with an explicit level keep the pattern to its two groups (``re.split``
# returns every group); levels 0-3 cover real code, deeper ones are lexed by _long_tail.
_LONG = "|".join(r"\[{e}\[[\s\S]*?\]{e}\]".format(e="=" * k) for k in range(4))
_ESC = r"\\z[ \t\r\n\v\f]*|\\(?:\r\n|\n\r|[\s\S])"
# One match = (comments and blanks before a token, the token); possessive quantifiers keep a
# failing match at the end of the source from backtracking.
_PATTERN = re.compile(
    rf"((?:[ \t\r\n\v\f]++|--(?:{_LONG})|--(?!\[=*\[)[^\r\n]*+)*+)("
    r"[A-Za-z_][A-Za-z0-9_]*"
    r"|0[xX](?:[pP][+-]|[0-9A-Za-z_.])*|\.?[0-9](?:[eE][+-]|[0-9A-Za-z_.])*"
    rf"|\"(?:[^\"\\\r\n]|{_ESC})*\"|'(?:[^'\\\r\n]|{_ESC})*'"
    rf"|{_LONG}"
    r"|::[ \t]*[A-Za-z_][A-Za-z0-9_]*[ \t]*::"  # a label: one token (typed-lua.md §7)
    # no ``>=``/``>>``: they close two type levels in ``Map<K, Array<T>>`` and ``Array<T>= {}``,
    # and the scan never needs them as comparisons or shifts
    r"|\.\.\.|\.\.|::|==|~=|<=|<<|//|->|\?:"
    r"|--\[=*\[|\[=*\[|[\"']"  # a long bracket of level > 3, or unterminated; an unterminated string
    r"|[^ \t\r\n\v\f]"
    r"|\Z"  # nothing: the comments and blanks at the end of the source
    r")"
)


def is_name(tok: str) -> bool:
    return tok[:1] in NAME_START and tok not in KEYWORDS


def is_number(tok: str) -> bool:
    c = tok[:1]
    return c in DIGITS or (c == "." and tok[1:2] in DIGITS)


def is_string(tok: str) -> bool:
    c = tok[:1]
    return c == '"' or c == "'" or (c == "[" and tok[1:2] in ("[", "="))


class Tokens:
    """Token texts ``t`` and start offsets ``p`` (ending with sentinels ``""`` at ``len(src)``)."""

    __slots__ = ("p", "src", "t")

    def __init__(self, src: str, t: list[str], p: list[int]) -> None:
        self.src = src
        self.t = t
        self.p = p

    def end(self, i: int) -> int:
        return self.p[i] + len(self.t[i])

    def newline_before(self, i: int) -> bool:
        """Is there a line break between token ``i - 1`` and token ``i``?"""
        gap = self.src[self.end(i - 1) : self.p[i]] if i > 0 else ""
        return "\n" in gap or "\r" in gap


def lex(src: str) -> Tokens:
    body = src
    skip = 0
    if src.startswith("#"):  # a shebang line: Lua's loader skips it, so do we
        skip = len(src.split("\n", 1)[0])
        body = src[skip:]
    parts = _PATTERN.split(body)
    ends = list(accumulate(map(len, parts), initial=skip))
    toks = parts[2::3]
    starts = ends[2:-1:3]
    while toks and not toks[-1]:
        del toks[-1], starts[-1]
    if "[" in body or "'" in body or '"' in body:
        toks, starts = _clean(src, toks, starts)
    # sentinels: the scan looks up to three tokens ahead without bounds checks
    toks.extend(("", "", ""))
    starts.extend((len(src), len(src), len(src)))
    return Tokens(src, toks, starts)


def _clean(src: str, toks: list[str], starts: list[int]) -> tuple[list[str], list[int]]:
    """Finish or cut at the rare tokens the pattern leaves open (deep or unterminated brackets)."""
    odd = [
        tok for tok in set(toks) if tok in ("'", '"') or _open_long(tok) or (tok[:3] == "--[" and _open_long(tok[2:]))
    ]
    if not odd:
        return toks, starts
    k = min(toks.index(tok) for tok in odd)
    tok = toks[k]
    if len(tok) == 1:  # an unterminated string
        return toks[:k], starts[:k]
    return _long_tail(src, toks[:k], starts[:k], starts[k], tok)


def _open_long(tok: str) -> bool:
    """``[==[`` exactly (the pattern matched only the opening of a long bracket)."""
    return len(tok) >= 2 and tok[-1] == "[" and tok.count("[") == 2 and tok.strip("[=") == ""


def _long_tail(src: str, toks: list[str], starts: list[int], at: int, opener: str) -> tuple[list[str], list[int]]:
    """A long bracket the pattern could not close: find its end, lex the rest after it."""
    level = opener.count("=")
    close = src.find("]" + "=" * level + "]", at + len(opener))
    head_t, head_p = toks, starts
    if close < 0:
        return head_t, head_p
    stop = close + level + 2
    if not opener.startswith("--"):
        head_t.append(src[at:stop])
        head_p.append(at)
    rest = lex(" " * stop + src[stop:]) if stop < len(src) else None
    if rest is not None:
        head_t.extend(rest.t[:-3])
        head_p.extend(rest.p[:-3])
    return head_t, head_p
