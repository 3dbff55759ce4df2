"""Top-level type declarations as a Lua table constructor, for the run-time type values.

The constructor is one line of Lua (it goes in front of the chunk's first line, so it must
not move any line) that ``typed_runtime.lua`` turns into type values::

    {{"Point", false, {"record", {{"x", {"ref", "number"}, false}}}, false}, ...}

that is ``{name, type parameters | false, body, is an interface}`` per declaration, and nodes
``{kind, ...}`` mirroring :mod:`.types`. Literal strings are decoded from their Lua source form
and re-encoded with decimal escapes, so the constructor holds no line break.
"""

from __future__ import annotations

import re

from .scanner import Alias
from .types import Node

__all__ = ["lua_string", "spec_source", "string_value"]

_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_ESCAPE = re.compile(
    r"\\(?:([abfnrtv\\\"'])|(\r\n|\n\r|\n|\r)|z[ \t\r\n\v\f]*|x([0-9A-Fa-f]{2})|(\d{1,3})|u\{([0-9A-Fa-f]+)\})"
)


def string_value(token: str) -> bytes:
    """The bytes a Lua string literal token stands for."""
    if token[0] == "[":
        level = token.index("[", 1) - 1
        body = token[level + 2 : len(token) - level - 2]
        if body[:2] in ("\r\n", "\n\r"):
            body = body[2:]
        elif body[:1] in ("\r", "\n"):
            body = body[1:]
        return body.encode("utf-8")
    out = bytearray()
    body = token[1:-1]
    pos = 0
    for m in _ESCAPE.finditer(body):
        out += body[pos : m.start()].encode("utf-8")
        simple, newline, hexa, dec, uni = m.groups()
        if simple is not None:
            out += _SIMPLE_ESCAPES.get(simple, simple).encode()
        elif newline is not None:
            out += b"\n"
        elif hexa is not None:
            out.append(int(hexa, 16))
        elif dec is not None:
            out.append(int(dec) & 0xFF)
        elif uni is not None:
            out += _utf8(int(uni, 16))
        pos = m.end()
    out += body[pos:].encode("utf-8")
    return bytes(out)


def _utf8(code: int) -> bytes:
    """Lua's ``\\u{X}`` (``luaO_utf8esc``): UTF-8 extended up to 2^31, surrogates included."""
    if code < 0x80:
        return bytes([code])
    out = []
    limit = 0x3F  # the largest value that still fits in the first byte
    while code > limit:
        out.append(0x80 | (code & 0x3F))
        code >>= 6
        limit >>= 1
    out.append(((~limit << 1) & 0xFF) | code)
    return bytes(reversed(out))


def lua_string(data: bytes) -> str:
    """A one-line Lua string literal for ``data``."""
    parts = ['"']
    for byte in data:
        ch = chr(byte)
        if 32 <= byte < 127 and ch not in '"\\':
            parts.append(ch)
        else:
            parts.append(f"\\{byte:03d}")
    parts.append('"')
    return "".join(parts)


def _literal(token: str) -> str:
    neg = token.startswith("-")
    core = token[1:] if neg else token
    if core[:1] in ("'", '"', "["):
        return lua_string(string_value(core))
    return token  # a number (Lua syntax as written), true or false


def _name(name: str) -> str:
    return lua_string(name.encode())


def _nodes(nodes: list[Node]) -> str:
    return ",".join(map(_node, nodes))


def _node(node: Node) -> str:
    kind = node[0]
    if kind == "ref":
        if node[2] is None:
            return f'{{"ref",{_name(node[1])}}}'
        return f'{{"ref",{_name(node[1])},{{{_nodes(node[2])}}}}}'
    if kind == "lit":
        if node[1] == "nil":
            return '{"ref","nil"}'
        return f'{{"lit",{_literal(node[1])}}}'
    if kind in ("opt", "array"):
        return f'{{"{kind}",{_node(node[1])}}}'
    if kind in ("union", "inter", "tuple"):
        return f'{{"{kind}",{{{_nodes(node[1])}}}}}'
    if kind == "map":
        return f'{{"map",{_node(node[1])},{_node(node[2])}}}'
    if kind in ("record", "iface"):
        fields = ",".join(
            f"{{{_name(name)},{_node(ftype)},{'true' if opt else 'false'}}}" for name, ftype, opt in node[1]
        )
        return f'{{"{kind}",{{{fields}}}}}'
    if kind == "func":
        return f'{{"func",{{{_nodes(node[1])}}},{{{_nodes(node[2])}}}}}'
    if kind == "ann":
        anns = ",".join(
            "{" + ",".join([_name(name), *("nil" if a is None else _literal(a) for a in args)]) + "}"
            for name, args in node[2]
        )
        return f'{{"ann",{_node(node[1])},{{{anns}}}}}'
    return '{"other"}'


def spec_source(aliases: dict[str, Alias]) -> str:
    items = []
    for name, (tparams, body, iface) in aliases.items():
        if tparams is None:
            tp = "false"
        else:
            tp = "{" + ",".join(f"{{{_name(p)},{'false' if c is None else _node(c)}}}" for p, c in tparams) + "}"
        items.append(f"{{{_name(name)},{tp},{_node(body)},{'true' if iface else 'false'}}}")
    return "{" + ",".join(items) + "}"
