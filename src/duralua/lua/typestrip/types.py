"""The type-expression grammar of typed-lua.md §4, over :class:`~.lexer.Tokens`.

Each ``parse_*`` method takes the index of the first token and returns ``(index after the
construct, node)``, or raises :class:`NoType`. The parser accepts a superset of Wippy's grammar
(``name? : T``, negative literals, parenthesised non-function types, ``;`` in records...):
the stripper only has to find where a type ends, and a superset never changes plain Lua since
these places cannot hold plain Lua anyway.

Nodes are tuples, kept small because they are built for every annotation:

* ``("ref", name, args | None)`` -- a named type, ``process.Message``, ``Map<K, V>``
* ``("lit", token)`` -- a literal type (``"x"``, ``42``, ``true``, ``nil``; ``-1`` as ``"-1"``)
* ``("opt", t)``, ``("union", [t...])``, ``("inter", [t...])``
* ``("array", t)``, ``("map", k, v)``, ``("record", [(name, t, optional)...])``
* ``("func", [param t...], [return t...])``, ``("tuple", [t...])``
* ``("ann", t, [(name, [arg token | None...])...])`` -- ``t @min(0) @pattern("^a")``
* ``("other",)`` -- ``typeof``/``keyof``/indexed access/conditional/``asserts``: no run-time check
"""

from __future__ import annotations

from typing import Any

from .lexer import DIGITS, NAME_START, Tokens, is_name, is_number, is_string

__all__ = ["NoType", "Node", "TypeParser"]

Node = tuple[Any, ...]
OTHER: Node = ("other",)

# Words that start something else than a type reference in type position.
_LITERAL_KWS = frozenset({"nil", "true", "false"})
_TYPE_START_OPS = frozenset({"{", "(", "...", "-"})
# Tokens that may continue a type after a name, and names that start something else.
_SUFFIXES = frozenset({".", "<", "?", "[", "@", "|", "&", "...", "extends", "(", "{"})
_SPECIAL = frozenset({"fun", "readonly", "interface", "typeof", "keyof", "asserts"})


class NoType(Exception):
    """The tokens at this position are not a type expression."""


def _word(tok: str) -> bool:
    """An identifier or a keyword: both may be record field and parameter names."""
    return tok[:1] in NAME_START


class TypeParser:
    def __init__(self, toks: Tokens) -> None:
        self.toks = toks
        self.t = toks.t

    # -- helpers ---------------------------------------------------------------------------------

    def close_angle(self, j: int) -> int:
        """Expect ``>`` at ``j`` (the lexer never joins ``>>``/``>=``, so ``Map<K, Array<T>>`` works)."""
        if self.t[j] == ">":
            return j + 1
        raise NoType

    def starts_type(self, j: int) -> bool:
        tok = self.t[j]
        if not tok:
            return False
        c = tok[0]
        if c in NAME_START:
            return tok in _LITERAL_KWS or tok == "function" or is_name(tok)
        return c in DIGITS or tok in _TYPE_START_OPS or is_string(tok) or is_number(tok)

    def named_item(self, j: int) -> int:
        """If ``j`` starts ``name:``, ``name?:`` or ``name? :``, the index of the type after it."""
        t = self.t
        if _word(t[j]) or t[j] == "...":
            nxt = t[j + 1]
            if nxt == ":" or nxt == "?:":
                return j + 2
            if nxt == "?" and t[j + 2] == ":":
                return j + 3
        return -1

    # -- grammar ---------------------------------------------------------------------------------

    def parse_type(self, j: int) -> tuple[int, Node]:
        """A full type: unions/intersections, then an optional conditional ``extends ? :``."""
        tok = self.t[j]
        if tok[:1] in NAME_START and self.t[j + 1] not in _SUFFIXES and is_name(tok) and tok not in _SPECIAL:
            return j + 1, ("ref", tok, None)  # the common case, a plain name: no need for the full descent
        j, node = self.parse_union(j)
        if self.t[j] == "extends":
            j, _ = self.parse_union(j + 1, strict_q=True)
            if self.t[j] != "?":
                raise NoType
            j, _ = self.parse_type(j + 1)
            if self.t[j] != ":":
                raise NoType
            j, _ = self.parse_type(j + 1)
            return j, OTHER
        return j, node

    def parse_union(self, j: int, strict_q: bool = False) -> tuple[int, Node]:
        t = self.t
        if t[j] in ("|", "&"):  # a leading separator, as in multi-line unions
            j += 1
        j, node = self.parse_postfix(j, strict_q)
        while True:
            op = t[j]
            if op != "|" and op != "&":
                return j, node
            j, rhs = self.parse_postfix(j + 1, strict_q)
            kind = "union" if op == "|" else "inter"
            node = (kind, [*node[1], rhs]) if node[0] == kind else (kind, [node, rhs])

    def parse_postfix(self, j: int, strict_q: bool = False) -> tuple[int, Node]:
        """A primary type with ``?``, ``[]``, ``[K]`` and ``@annotation`` suffixes."""
        t = self.t
        j, node = self.parse_primary(j)
        while True:
            tok = t[j]
            if tok == "?":
                if strict_q and self.starts_type(j + 1):
                    return j, node  # ``A extends B ? X : Y``: this ``?`` is the conditional's
                node = ("opt", node)
                j += 1
            elif tok == "[":
                if t[j + 1] == "]":
                    node = ("array", node)
                    j += 2
                else:  # indexed access ``T[K]``
                    j, _ = self.parse_type(j + 1)
                    if t[j] != "]":
                        raise NoType
                    node = OTHER
                    j += 1
            elif tok == "@":
                j, ann = self.parse_annotation(j + 1)
                node = ("ann", node[1], [*node[2], ann]) if node[0] == "ann" else ("ann", node, [ann])
            elif tok == "..." and node[0] == "ref":  # a generic pack ``T...``
                node = OTHER
                j += 1
            else:
                return j, node

    def parse_annotation(self, j: int) -> tuple[int, tuple[str, list[str | None]]]:
        """``name``, ``name()`` or ``name(arg, ...)``; only literal arguments are kept."""
        t = self.t
        name = t[j]
        if not _word(name):
            raise NoType
        j += 1
        args: list[str | None] = []
        if t[j] != "(":
            return j, (name, args)
        j += 1
        if t[j] == ")":
            return j + 1, (name, args)
        while True:
            start = j
            depth = 0
            while True:
                tok = t[j]
                if not tok:
                    raise NoType
                if tok in ("(", "{", "["):
                    depth += 1
                elif tok in (")", "}", "]"):
                    if depth == 0:
                        break
                    depth -= 1
                elif tok == "," and depth == 0:
                    break
                j += 1
            args.append(_literal_arg(t[start:j]))
            if t[j] == ",":
                j += 1
                continue
            if t[j] != ")":
                raise NoType
            return j + 1, (name, args)

    def parse_primary(self, j: int) -> tuple[int, Node]:
        t = self.t
        tok = t[j]
        if not tok:
            raise NoType
        c = tok[0]
        if c in NAME_START:
            if tok in _LITERAL_KWS:
                return j + 1, ("lit", tok)
            nxt = t[j + 1]
            if tok == "function" or tok == "fun":
                if nxt == "(":
                    return self.parse_fun(j + 1)
                if tok == "function":
                    raise NoType
            elif tok == "readonly" or tok == "interface":
                if nxt == "{":
                    return self.parse_table(j + 1)
            elif tok == "typeof" and nxt == "(":
                return self.balanced(j + 1), OTHER
            elif tok == "keyof" and nxt == "(":
                j, _ = self.parse_type(j + 2)
                if t[j] != ")":
                    raise NoType
                return j + 1, OTHER
            elif tok == "asserts" and is_name(nxt):
                j += 2
                if t[j] == "is":
                    j, _ = self.parse_type(j + 1)
                return j, OTHER
            if not is_name(tok):
                raise NoType
            name = tok
            j += 1
            while t[j] == "." and _word(t[j + 1]):
                name += "." + t[j + 1]
                j += 2
            if t[j] != "<":
                return j, ("ref", name, None)
            return self.parse_type_args(j, name)
        if c == "{":
            return self.parse_table(j)
        if c == "(":
            return self.parse_paren(j)
        if tok == "-" and is_number(t[j + 1]):
            return j + 2, ("lit", "-" + t[j + 1])
        if tok == "...":
            if self.starts_type(j + 1):
                j, _ = self.parse_postfix(j + 1)
                return j, OTHER
            return j + 1, OTHER
        if is_string(tok) or is_number(tok):
            return j + 1, ("lit", tok)
        raise NoType

    def parse_type_args(self, j: int, name: str) -> tuple[int, Node]:
        t = self.t
        j += 1
        args: list[Node] = []
        if t[j] != ">":
            while True:
                j, arg = self.parse_type(j)
                args.append(arg)
                if t[j] != ",":
                    break
                j += 1
        return self.close_angle(j), ("ref", name, args)

    def parse_items(self, j: int) -> tuple[int, list[Node]]:
        """``( [name:] T, ...T, ...: T )`` at ``(``: a tuple, a function type's parameters."""
        t = self.t
        j += 1
        items: list[Node] = []
        if t[j] == ")":
            return j + 1, items
        while True:
            after = self.named_item(j)
            if after >= 0:
                j = after
            elif t[j] == "..." and not self.starts_type(j + 1):
                j += 1
                items.append(OTHER)
                if t[j] != ")":
                    raise NoType
                return j + 1, items
            j, item = self.parse_type(j)
            items.append(item)
            if t[j] == ",":
                j += 1
                continue
            if t[j] == ")":
                return j + 1, items
            raise NoType

    def parse_paren(self, j: int) -> tuple[int, Node]:
        """``(A, B) -> R``, a tuple ``(A, B)``, ``()``, or a parenthesised type ``((A) -> R)``."""
        j, items = self.parse_items(j)
        if self.t[j] == "->":
            j, ret = self.parse_type(j + 1)
            return j, ("func", items, list(ret[1]) if ret[0] == "tuple" else [ret])
        if len(items) == 1:
            return j, items[0]
        return j, ("tuple", items)

    def parse_fun(self, j: int) -> tuple[int, Node]:
        """``fun(a: A): R`` at the ``(``."""
        j, params = self.parse_items(j)
        rets: list[Node] = []
        if self.t[j] == ":":
            j, ret = self.parse_type(j + 1)
            rets = list(ret[1]) if ret[0] == "tuple" else [ret]
        return j, ("func", params, rets)

    def parse_table(self, j: int) -> tuple[int, Node]:
        """``{T}``, ``{[K]: V}``, ``{name: T, opt?: U,}`` (``{}`` is the empty record)."""
        t = self.t
        j += 1
        fields: list[tuple[str, Node, bool]] = []
        elems: list[Node] = []
        maps: list[tuple[Node, Node]] = []
        while t[j] != "}":
            if t[j] == "[":
                j, key = self.parse_type(j + 1)
                if t[j] != "]" or t[j + 1] != ":":
                    raise NoType
                j, val = self.parse_type(j + 2)
                maps.append((key, val))
            else:
                if t[j] == "readonly" and _word(t[j + 1]) and t[j + 2] in (":", "?:", "?"):
                    j += 1  # field-level ``readonly`` (only in Wippy's docs): accepted, ignored
                after = self.named_item(j) if t[j] != "..." else -1
                if after >= 0:
                    name, optional = t[j], t[j + 1] != ":"
                    j, ftype = self.parse_type(after)
                    fields.append((name, ftype, optional))
                else:
                    j, elem = self.parse_type(j)
                    elems.append(elem)
            if t[j] in (",", ";"):
                j += 1
            elif t[j] != "}":
                raise NoType
        j += 1
        if fields or not (elems or maps):
            return j, ("record", fields)
        if maps and not elems:
            return j, ("map", maps[0][0], maps[0][1])
        if len(elems) == 1 and not maps:
            return j, ("array", elems[0])
        return j, OTHER

    def balanced(self, j: int) -> int:
        """Skip a parenthesised group at ``j`` (``typeof(expr)``)."""
        t = self.t
        depth = 0
        while t[j]:
            if t[j] == "(":
                depth += 1
            elif t[j] == ")":
                depth -= 1
                if depth == 0:
                    return j + 1
            j += 1
        raise NoType


def _literal_arg(toks: list[str]) -> str | None:
    """An annotation argument kept for run-time checks: a literal, else ``None`` (ignored)."""
    if len(toks) == 1:
        tok = toks[0]
        if is_number(tok) or is_string(tok) or tok in _LITERAL_KWS:
            return tok
    elif len(toks) == 2 and toks[0] == "-" and is_number(toks[1]):
        return "-" + toks[1]
    return None
