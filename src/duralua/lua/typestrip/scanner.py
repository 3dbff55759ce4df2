"""The statement-level scan: find every place where type syntax may stand and erase it.

This is not a full Lua parser, on purpose: a recursive-descent parse of every expression costs
several times the lexing in Python, and type syntax can stand only in a few places that the
tokens around them identify exactly (typed-lua.md §3):

* after the names of ``local`` and ``for`` and of function parameters, after a function's
  parameter list (return types), between a function's name and its parameters (``<T>``);
* ``type``/``interface``/``export type`` followed by a name at a statement start -- plain Lua
  never has a name right after a complete expression, so a statement starts at a token that
  does not continue an expression;
* ``as``, ``::`` and ``!`` right after a complete expression.

Plain Lua has none of these, so a plain file comes back unchanged by construction. Where an
annotation cannot be parsed it is left alone and Lua reports the syntax error at its line.

The scan also tracks block scopes of locals, only for the names that may be type names, to
find the call shapes of typed-lua.md §5.2 (``Name(v)``, ``Name:is(v)``...) where ``Name`` is a
type name and no local shadows it.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import compress

from .lexer import Tokens, is_name, is_number, is_string
from .types import Node, NoType, TypeParser

__all__ = ["BUILTIN_TYPES", "METHODS", "Alias", "Scanner"]

BUILTIN_TYPES = frozenset({"boolean", "number", "integer", "string", "any", "unknown", "never"})
# Methods of a type value (typed-lua.md §5.4, §5.6): ``Name.m(...)``/``Name:m(...)`` call them.
METHODS = frozenset(
    {"is", "kind", "name", "elem", "key", "val", "inner", "ret", "fields", "variants", "params", "tparams"}
)

# Tokens after which an expression continues: a name there is an operand, not a statement.
_CONTINUES = frozenset(
    {
        "+", "-", "*", "/", "//", "%", "^", "..", "==", "~=", "<", "<=", ">", ">=", "&", "|", "~",
        "<<", ">>", "#", "=", "(", "[", "{", ",", ".", ":", "::", "and", "or", "not", "return",
        "if", "elseif", "while", "until", "in", "local", "function", "goto", "for",
    }
)  # fmt: skip
_ENDS_EXPR = frozenset({")", "]", "}", "...", "nil", "true", "false", "end"})

# A type the parser cannot take: left for Lua to report (absurdly deep nesting included).
_FAILED = (NoType, RecursionError)

# (type parameters [(name, constraint | None)] or None, body, is an interface)
Alias = tuple[list[tuple[str, Node | None]] | None, Node, bool]


class Scanner(TypeParser):
    def __init__(self, toks: Tokens, names: frozenset[str]) -> None:
        super().__init__(toks)
        self.names = names  # names whose scope is tracked (builtins and top-level aliases)
        self.blanks: list[tuple[int, int]] = []  # character ranges to blank
        self.calls: list[tuple[int, str]] = []  # (offset, name) of type-value call sites
        self.aliases: dict[str, Alias] = {}  # top-level type/interface declarations
        self.scopes: list[list[str]] = [[]]
        self.counts: dict[str, int] = {}
        self.pending: list[str] = []  # ``for`` variables, declared by the ``do`` that follows
        self.after_type = -1  # index of the token right after the last erased annotation
        self.handlers: dict[str, Callable[[int], int]] = {
            "function": self.function, "local": self.local, "for": self.for_, "type": self.alias,
            "export": self.export, "interface": self.interface, "as": self.cast, "::": self.cast,
            "!": self.bang,
        }  # fmt: skip
        if names:  # scopes matter only to find type-value call sites (plain stripping skips them)
            self.handlers.update({
                "do": self.do, "then": self.open_block, "repeat": self.open_block, "else": self.else_,
                "elseif": self.close_block, "end": self.close_block, "until": self.close_block,
            })  # fmt: skip

    def run(self) -> None:
        t = self.t
        handlers = self.handlers
        # Only the tokens with a handler (and the tracked names) matter: find them in C.
        wanted = frozenset(handlers) | self.names
        i = 0
        for k in compress(range(len(t)), map(wanted.__contains__, t)):
            if k < i:
                continue  # inside something a handler already consumed
            tok = t[k]
            handler = handlers.get(tok)
            if handler is not None:
                i = handler(k)
            else:
                self.call_site(k)
                i = k + 1

    # -- helpers ---------------------------------------------------------------------------------

    def blank(self, a: int, b: int) -> None:
        """Erase tokens ``a`` .. ``b - 1`` (and whatever lies between them)."""
        if b > a:
            self.blanks.append((self.toks.p[a], self.toks.end(b - 1)))
            self.after_type = b

    def stmt_start(self, i: int) -> bool:
        return i == 0 or i == self.after_type or self.t[i - 1] not in _CONTINUES

    def ends_expr(self, i: int) -> bool:
        if i == 0:
            return False
        if i == self.after_type:
            return True
        prev = self.t[i - 1]
        return prev in _ENDS_EXPR or is_name(prev) or is_number(prev) or is_string(prev)

    def declare(self, name: str) -> None:
        if name in self.names:
            self.scopes[-1].append(name)
            self.counts[name] = self.counts.get(name, 0) + 1

    def push(self, names: list[str]) -> None:
        self.scopes.append([])
        for name in names:
            self.declare(name)

    def pop(self) -> None:
        if len(self.scopes) > 1:
            for name in self.scopes.pop():
                self.counts[name] -= 1

    # -- blocks ----------------------------------------------------------------------------------

    def do(self, i: int) -> int:
        names, self.pending = self.pending, []
        self.push(names)
        return i + 1

    def open_block(self, i: int) -> int:
        self.push([])
        return i + 1

    def else_(self, i: int) -> int:
        self.pop()
        self.push([])
        return i + 1

    def close_block(self, i: int) -> int:
        self.pop()
        return i + 1

    # -- declarations ----------------------------------------------------------------------------

    def function(self, i: int) -> int:
        """``function [name{.name}[:name]] [<T, ...>] (params) [: returns]``."""
        t = self.t
        j = i + 1
        method = False
        if is_name(t[j]):
            j += 1
            while t[j] == "." and is_name(t[j + 1]):
                j += 2
            if t[j] == ":" and is_name(t[j + 1]):
                j += 2
                method = True
        if t[j] == "<":
            try:
                end, _ = self.generic_params(j)
            except _FAILED:
                return j
            self.blank(j, end)
            j = end
        if t[j] != "(":
            return j
        self.push(["self"] if method else [])
        try:
            j = self.params(j)
        except _FAILED:
            return j + 1
        if t[j] == ":":
            try:
                end, _ = self.parse_type(j + 1)
                while t[end] == ",":  # ``: string, error?`` without parentheses
                    end, _ = self.parse_type(end + 1)
            except _FAILED:
                return j
            self.blank(j, end)
            j = end
        return j

    def params(self, j: int) -> int:
        """The parameter list at ``(``: declare the names, erase the annotations."""
        t = self.t
        j += 1
        if t[j] == ")":
            return j + 1
        while True:
            tok = t[j]
            if tok == "...":
                j += 1
            elif is_name(tok):
                self.declare(tok)
                j += 1
            else:
                raise NoType
            after = j + 1 if t[j] in (":", "?:") else j + 2 if t[j] == "?" and t[j + 1] == ":" else 0
            if after:
                end, _ = self.parse_type(after)
                self.blank(j, end)
                j = end
            if t[j] == ",":
                j += 1
            elif t[j] == ")":
                return j + 1
            else:
                raise NoType

    def local(self, i: int) -> int:
        t = self.t
        if t[i + 1] == "function":
            if is_name(t[i + 2]):
                self.declare(t[i + 2])
            return self.function(i + 1)
        j, names = self.name_list(i + 1)
        for name in names:
            self.declare(name)
        return j

    def for_(self, i: int) -> int:
        j, self.pending = self.name_list(i + 1)
        return j

    def name_list(self, j: int) -> tuple[int, list[str]]:
        """``name [<attrib>] [: type] [<attrib>] {, ...}`` of ``local`` and ``for``."""
        t = self.t
        names: list[str] = []
        while is_name(t[j]):
            names.append(t[j])
            j = self.attrib(j + 1)
            if t[j] == ":":
                try:
                    end, _ = self.parse_type(j + 1)
                except _FAILED:
                    return j, names
                self.blank(j, end)
                j = self.attrib(end)
            if t[j] != ",":
                break
            j += 1
        return j, names

    def attrib(self, j: int) -> int:
        """Skip a Lua 5.4 attribute ``<const>``/``<close>``."""
        t = self.t
        if t[j] == "<" and is_name(t[j + 1]) and t[j + 2] == ">":
            return j + 3
        return j

    def generic_params(self, j: int) -> tuple[int, list[tuple[str, Node | None]]]:
        """``<T, K: C, V = D, U...>`` at ``<``."""
        t = self.t
        out: list[tuple[str, Node | None]] = []
        j += 1
        while True:
            name = t[j]
            if not is_name(name):
                raise NoType
            j += 1
            constraint: Node | None = None
            if t[j] == "...":
                j += 1
            if t[j] == ":":
                j, constraint = self.parse_type(j + 1)
            if t[j] == "=":
                j, _ = self.parse_type(j + 1)
            out.append((name, constraint))
            if t[j] != ",":
                return self.close_angle(j), out
            j += 1

    # -- type statements -------------------------------------------------------------------------

    def alias(self, i: int, first: int = -1) -> int:
        """``type Name [<params>] = T`` at a statement start (``first``: an ``export`` before it)."""
        t = self.t
        if first < 0 and not self.stmt_start(i):
            return i + 1
        name = t[i + 1]
        if not is_name(name):
            return i + 1
        k = i + 2
        tparams = None
        try:
            if t[k] == "<":
                k, tparams = self.generic_params(k)
            if t[k] != "=":
                return i + 1
            end, node = self.parse_type(k + 1)
        except _FAILED:
            return i + 1
        self.blank(first if first >= 0 else i, end)
        if len(self.scopes) == 1:
            self.aliases[name] = (tparams, node, False)
        return end

    def export(self, i: int) -> int:
        if self.t[i + 1] == "type" and self.stmt_start(i):
            return self.alias(i + 1, first=i)
        return i + 1

    def interface(self, i: int) -> int:
        """``interface Name [<T>] [: Base, ...] {function m(a: T): R | field: T} end``."""
        t = self.t
        name = t[i + 1]
        if not is_name(name) or not self.stmt_start(i):
            return i + 1
        k = i + 2
        fields: list[tuple[str, Node, bool]] = []
        tparams = None
        try:
            if t[k] == "<":
                k, tparams = self.generic_params(k)
            if t[k] == ":":
                k, _ = self.parse_postfix(k + 1)
                while t[k] == ",":
                    k, _ = self.parse_postfix(k + 1)
            while t[k] != "end":
                if t[k] in (",", ";"):
                    k += 1
                    continue
                if t[k] == "function" and t[k + 2] == "(":
                    member = t[k + 1]
                    k, params = self.parse_items(k + 2)
                    rets: list[Node] = []
                    if t[k] == ":":
                        k, ret = self.parse_type(k + 1)
                        rets.append(ret)
                        while t[k] == ",":
                            k, ret = self.parse_type(k + 1)
                            rets.append(ret)
                    fields.append((member, ("func", params, rets), False))
                    continue
                after = self.named_item(k)
                if after < 0:
                    raise NoType
                member, optional = t[k], t[k + 1] != ":"
                k, ftype = self.parse_type(after)
                fields.append((member, ftype, optional))
        except _FAILED:
            return i + 1
        self.blank(i, k + 1)
        if len(self.scopes) == 1:
            self.aliases[name] = (tparams, ("iface", fields), True)
        return k + 1

    # -- expressions -----------------------------------------------------------------------------

    def cast(self, i: int) -> int:
        """``expr as T`` / ``expr :: T``: the cast takes one postfix type (``x as A | B`` is ``(x as A) | B``)."""
        t = self.t
        if not self.ends_expr(i):
            return i + 1
        nxt = t[i + 1]
        if not self.starts_type(i + 1):
            return i + 1
        # ``:: name ::`` split by a comment or a line break is still a Lua label
        if t[i] == "::" and t[i + 2] == "::" and is_name(nxt):
            return i + 3
        # ``f()`` then ``as(x)`` on the next line is a call of a function named ``as``
        if t[i] == "as" and (nxt in ("(", "{") or is_string(nxt)) and self.toks.newline_before(i):
            return i + 1
        try:
            end, node = self.parse_postfix(i + 1)
        except _FAILED:
            return i + 1
        if nxt == "(":
            while node[0] in ("opt", "array", "ann"):
                node = node[1]
            if node[0] != "func":
                # ``(A)`` is no type in Wippy; so ``f() as(x)`` stays a call of a function ``as``
                return i + 1
        self.blank(i, end)
        return end

    def bang(self, i: int) -> int:
        """The non-nil assertion ``expr!`` (``a != b`` is not Lua: left for Lua to report)."""
        p = self.toks.p
        if self.ends_expr(i) and not (self.t[i + 1] == "=" and p[i + 1] == p[i] + 1):
            self.blank(i, i + 1)
        return i + 1

    def call_site(self, i: int) -> None:
        """Record ``Name(...)``, ``Name "s"``, ``Name {...}``, ``Name.m(...)``, ``Name:m(...)``."""
        t = self.t
        name = t[i]
        if (i and t[i - 1] in (".", ":")) or self.counts.get(name):
            return
        nxt = t[i + 1]
        if nxt == "(" or nxt == "{" or is_string(nxt):
            if name != "string":  # ``string(v)`` is the sandbox's checked cast already
                self.calls.append((self.toks.p[i], name))
        elif (nxt == "." or nxt == ":") and t[i + 2] in METHODS:
            arg = t[i + 3]
            if arg == "(" or arg == "{" or is_string(arg):
                self.calls.append((self.toks.p[i], name))
