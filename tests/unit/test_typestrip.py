"""The type stripper: annotations go, everything else (and every line break) stays."""

from __future__ import annotations

from typing import Any

import lupa.lua54 as lupa
import pytest

from duralua.lua.typestrip import strip_types, tokenize


def run(source: str) -> Any:
    """Compile and run plain Lua 5.4 (a fresh, unsandboxed runtime) and return its results."""
    lua = lupa.LuaRuntime(unpack_returned_tuples=True)
    return lua.execute(source)


def assert_shape(typed: str, stripped: str) -> None:
    """Same length, same line breaks at the same offsets; only spaces were introduced."""
    assert len(stripped) == len(typed)
    for a, b in zip(typed, stripped, strict=True):
        if a != b:
            assert b == " ", (typed, stripped)
            assert a not in "\r\n"


def blanked(typed: str, *parts: str) -> str:
    """``typed`` with each of ``parts`` (searched left to right) replaced by spaces."""
    out, pos = typed, 0
    for part in parts:
        at = out.index(part, pos)
        out = out[:at] + " " * len(part) + out[at + len(part) :]
        pos = at + len(part)
    return out


# (typed source, the annotations that must disappear, in order)
EXACT: list[tuple[str, tuple[str, ...]]] = [
    ("local x: number = 1", (": number",)),
    ("local a: number, b: string? = 1, nil", (": number", ": string?")),
    ("local x: T? = nil", (": T?",)),
    ("function f(a: string, b: number?): any?\nend", (": string", ": number?", ": any?")),
    (
        "function M.f(self, x: {[string]: any[]}): (string, error?) end",
        (": {[string]: any[]}", ": (string, error?)"),
    ),
    ("local g = function(a: T): R end", (": T", ": R")),
    ("function M:m(x: number): boolean end", (": number", ": boolean")),
    ("local function f<T>(x: T): T end", ("<T>", ": T", ": T")),
    ("local h = function<T>(x: T) end", ("<T>", ": T")),
    ("type Alias = process.Message", ("type Alias = process.Message",)),
    ("export type Id = string", ("export type Id = string",)),
    ("type Pair<K, V> = { key: K, value: V }", ("type Pair<K, V> = { key: K, value: V }",)),
    ("type A = string; local x = 1", ("type A = string;",)),
    ("local ch: Channel<Message> = c", (": Channel<Message>",)),
    ("local m: Map<string, Array<number>> = {}", (": Map<string, Array<number>>",)),
    ("local m: Map<string, Array<number>>= {}", (": Map<string, Array<number>>",)),
    ("local t: {message: string?} = {}", (": {message: string?}",)),
    ("local cb: (a: string) -> boolean = f", (": (a: string) -> boolean",)),
    ("local cb: ((string, number) -> ())? = nil", (": ((string, number) -> ())?",)),
    ("local u: string | nil = nil", (": string | nil",)),
    ("local u: 'a' | 'b' = 'a'", (": 'a' | 'b'",)),
    ("local v = (x as Type)", (" as Type",)),
    ("local y = x as string", (" as string",)),
    ("f(a as number, b)", (" as number",)),
    ("local z = t[1] as {string}", (" as {string}",)),
    ("local w = g() as Channel<Message>?", (" as Channel<Message>?",)),
    ("for i: number = 1, 3 do end", (": number",)),
    ("for k: string, v: any in pairs(t) do end", (": string", ": any")),
    ("local f = function(...: any): ...any end", (": any", ": ...any")),
    ("local c <const>: number = 1", (": number",)),
    ("local function f(): () end", (": ()",)),
    ("function f(): string, error? end", (": string, error?",)),
    (
        "type Handler = (msg: Message, n: number?) -> (boolean, string?)\nlocal h = 1",
        ("type Handler = (msg: Message, n: number?) -> (boolean, string?)",),
    ),
    (
        'type Both = A & B | { end: number, ["k"]: string }',
        ('type Both = A & B | { end: number, ["k"]: string }',),
    ),
    ("local ok: boolean, err: error? = pcall(f)", (": boolean", ": error?")),
    (
        "local t: { get: (self: Foo, key: string) -> any } = {}",
        (": { get: (self: Foo, key: string) -> any }",),
    ),
    ("function M:m<T, U...>(x: T): U... end", ("<T, U...>", ": T", ": U...")),
]


@pytest.mark.parametrize(("typed", "parts"), EXACT)
def test_exact_output(typed: str, parts: tuple[str, ...]) -> None:
    expected = blanked(typed, *parts)
    assert strip_types(typed) == expected
    assert_shape(typed, expected)
    lupa.LuaRuntime().compile(expected)  # plain Lua 5.4 parses the result


UNTOUCHED = [
    "local type = 1\nreturn type",
    "local msg = {type = 'x'}\nreturn msg.type",
    "local t = {as = 2}\nreturn t.as",
    "return type(1), type('x'), type({})",
    "local as = 5\nreturn as + 1",
    "local o = {v = 3}\nfunction o:get(n) return self.v + n end\nreturn o:get(1)",
    "local s = ('x'):rep(3)\nreturn s:upper()",
    "for i = 1, 3 do\n  if i == 2 then goto continue end\n  ::continue::\nend\nreturn 1",
    "local t = {a = 1, ['k'] = 2, [3] = 4}\nreturn t.a + t.k + t[3]",
    "return 'a: b', \"c: d\", [[e: f as g]], [==[h: ]] i]==]",
    "-- local x: number = 1\n--[[ type X = string ]]\n--[==[ as T ]==]\nreturn 0",
    "local s = 'it\\'s: \\\"q\\\"'\nreturn s",
    'local s = "line\\\ncontinued: x"\nreturn s',
    "local function f(a, b) return a < b, a > b end\nreturn f(1, 2)",
    "local x = 1 < 2 and 3 > 2\nreturn x",
    "return 0x1F, 1e-3, 3.5, .5, 0xA.8p1",
    "local type = type\nreturn type(nil)",
    "type = nil\nreturn 1",
    "local t = {}\nt.type = 'k'\nt['as'] = 1\nreturn t.type",
    "local n = #'abc' // 2 ~ 1 << 2 >> 1\nreturn n",
    "local function as(x) return x end\nreturn as(7)",
    "local export = {}\nexport.type = 1\nreturn export.type",
    "return ('a'):byte() ~= 0",
    "local t = { a = 1; type = 2; as = 3 }\nreturn t.type + t.as",
    "local t = {}\nfor k, v in next, t do end\nfor i = #t, 1, -1 do end\nreturn 1",
]


@pytest.mark.parametrize("source", UNTOUCHED)
def test_plain_lua_is_untouched(source: str) -> None:
    assert strip_types(source) == source
    run(source)  # and it is valid Lua


# (typed, untyped equivalent): the stripped code must compile and behave the same
EQUIVALENT = [
    (
        "local function add(a: number, b: number?): number\n  return a + (b or 0)\nend\nreturn add(1, 2), add(5)",
        "local function add(a, b)\n  return a + (b or 0)\nend\nreturn add(1, 2), add(5)",
    ),
    (
        "type P = {\n  x: number,\n  y: number,\n}\nlocal p: P = {x = 1, y = 2}\nreturn p.x + p.y",
        "local p = {x = 1, y = 2}\nreturn p.x + p.y",
    ),
    (
        "local t = {}\nt.type = 'a'\ntype T = string\nreturn t.type, type(t)",
        "local t = {}\nt.type = 'a'\nreturn t.type, type(t)",
    ),
    (
        "local x = 3\nlocal y = (x as number) * 2\nreturn y",
        "local x = 3\nlocal y = (x) * 2\nreturn y",
    ),
    (
        "local o = {n = 1}\nfunction o:inc(by: number): number self.n = self.n + by return self.n end\nreturn o:inc(2)",
        "local o = {n = 1}\nfunction o:inc(by) self.n = self.n + by return self.n end\nreturn o:inc(2)",
    ),
    (
        "local r = {}\nfor i: integer = 1, 3 do r[#r + 1] = i end\nreturn #r",
        "local r = {}\nfor i = 1, 3 do r[#r + 1] = i end\nreturn #r",
    ),
]


@pytest.mark.parametrize(("typed", "plain"), EQUIVALENT)
def test_stripped_behaves_like_untyped(typed: str, plain: str) -> None:
    stripped = strip_types(typed)
    assert_shape(typed, stripped)
    assert run(stripped) == run(plain)


WIPPY_FILE = """\
-- order workflow (Wippy style)
local funcs = {call = function(id: string, ...: any): (any, string?) return id, nil end}

type OrderItem = {
    sku: string,
    qty: number,
    price: number?,   -- optional
}

export type Order = {
    id: string,
    items: {OrderItem},
    meta: {[string]: any}?,
    on_done: ((order: Order, ok: boolean) -> ())?,
}

type Result<T> = { value: T?, error: string? }

local M = {}
local DEFAULT_TAX: number = 0.5

local function total(order: Order, tax: number?): (number, string?)
    local sum: number = 0
    for _, item: OrderItem in ipairs(order.items) do
        sum = sum + item.qty * (item.price or 0)
    end
    return sum * (1 + (tax or DEFAULT_TAX)), nil
end

function M.describe(o: Order): string
    local kind = type(o)
    local msg = { type = kind, text = "id: " .. o.id }
    local label: string = (o.id as string) .. ":" .. #o.items .. ":" .. msg.type
    return label
end

function M:check<T>(x: T, cb: (T) -> boolean): Result<T>
    if cb(x) then return { value = x } end
    return { error = "rejected: " .. tostring(x) }
end

function M.run(input: {id: string, items: {OrderItem}}): (number?, string?)
    local ch: Channel<Message>? = nil
    local seen: {[string]: boolean} = {}
    for _, it in ipairs(input.items) do
        if seen[it.sku] then goto continue end
        seen[it.sku] = true
        ::continue::
    end
    local sum, err = total(input as Order)
    if err then return nil, err end
    local id, _ = funcs.call("app:charge", sum)
    return sum, id as string
end

return M
"""

WIPPY_PLAIN = """\
local funcs = {call = function(id, ...) return id, nil end}
local M = {}
local DEFAULT_TAX = 0.5
local function total(order, tax)
    local sum = 0
    for _, item in ipairs(order.items) do
        sum = sum + item.qty * (item.price or 0)
    end
    return sum * (1 + (tax or DEFAULT_TAX)), nil
end
function M.describe(o)
    local kind = type(o)
    local msg = { type = kind, text = "id: " .. o.id }
    local label = (o.id) .. ":" .. #o.items .. ":" .. msg.type
    return label
end
function M:check(x, cb)
    if cb(x) then return { value = x } end
    return { error = "rejected: " .. tostring(x) }
end
function M.run(input)
    local ch = nil
    local seen = {}
    for _, it in ipairs(input.items) do
        if seen[it.sku] then goto continue end
        seen[it.sku] = true
        ::continue::
    end
    local sum, err = total(input)
    if err then return nil, err end
    local id, _ = funcs.call("app:charge", sum)
    return sum, id
end
return M
"""

DRIVE = """
local M = ...
local order = {id = "o-1", items = {
  {sku = "a", qty = 2, price = 3}, {sku = "a", qty = 1}, {sku = "b", qty = 1, price = 4},
}}
local ok = M:check(5, function(v) return v > 3 end)
local no = M:check(1, function(v) return v > 3 end)
local sum, id = M.run(order)
return M.describe(order), ok.value, no.error, sum, id
"""


def test_realistic_wippy_file() -> None:
    stripped = strip_types(WIPPY_FILE)
    assert_shape(WIPPY_FILE, stripped)
    assert "type OrderItem" not in stripped and "Channel<" not in stripped and " as " not in stripped
    assert "msg.type" in stripped and "type(o)" in stripped and "M:check" in stripped
    results = []
    for source in (stripped, WIPPY_PLAIN):
        lua = lupa.LuaRuntime(unpack_returned_tuples=True)
        module = lua.execute(source)
        results.append(lua.execute(DRIVE, module))
    assert results[0] == results[1] == ("o-1:3:table", 5, "rejected: 1", 15.0, "app:charge")


def test_line_numbers_survive() -> None:
    typed = "type X = {\n  a: string,\n  b: number?\n}\nlocal y: X = {}\nerror('here')"
    stripped = strip_types(typed)
    assert stripped.count("\n") == typed.count("\n")
    lua = lupa.LuaRuntime()
    with pytest.raises(lupa.LuaError, match=r"t\.lua:6: here"):
        lua.eval("function(s) return assert(load(s, '@t.lua')) end")(stripped)()


def test_crlf_line_breaks_are_kept() -> None:
    typed = "type X = {\r\n  a: string\r\n}\r\nlocal v: number = 1\r\nreturn v"
    stripped = strip_types(typed)
    assert_shape(typed, stripped)
    assert run(stripped) == 1


def test_unparseable_annotation_is_left_for_lua_to_report() -> None:
    typed = "local x: = 1"
    assert strip_types(typed) == typed


def test_malformed_sources_do_not_raise() -> None:
    for src in [
        "local s = 'unterminated\nlocal x: number = 1",
        "x = [[ never closed",
        "--[[ open comment",
        "",
    ]:
        assert len(strip_types(src)) == len(src)


def test_as_at_line_start_is_a_call() -> None:
    src = "local as = function(t) return t end\nlocal x = 1\nas {x}\nas(x)\nreturn x"
    assert strip_types(src) == src


def test_tokenizer_skips_comments_and_keeps_strings() -> None:
    toks = tokenize("local a = [==[x]]y]==] -- c\n--[[ d ]] b = 'q' :: x ::")
    assert [t.value for t in toks] == ["local", "a", "=", "[==[x]]y]==]", "b", "=", "'q'", "::", "x", "::"]
    assert toks[4].line == 2
