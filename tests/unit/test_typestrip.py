"""The type stripper: annotations go, everything else (and every line break) stays."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import lupa.lua54 as lupa
import pytest

from duralua.errors import LuaError
from duralua.lua.sandbox import LuaSandbox
from duralua.lua.typestrip import prepare, strip_types, tokenize

CORPUS = Path(__file__).parent / "typed_corpus"


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
    """``typed`` with each of ``parts`` (searched left to right) replaced by spaces, line breaks kept."""
    out, pos = typed, 0
    for part in parts:
        at = out.index(part, pos)
        out = out[:at] + re.sub(r"[^\r\n]", " ", part) + out[at + len(part) :]
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
    ("type A = string; local x = 1", ("type A = string",)),
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
    ("type Both = A & B | { end: number, type: string }", ("type Both = A & B | { end: number, type: string }",)),
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
    # ``:: x ::`` is a label (typed-lua.md §7: spaces allowed inside); ``>>`` is never one token
    toks = tokenize("local a = [==[x]]y]==] -- c\n--[[ d ]] b = 'q' :: x ::lbl:: :: T c->d?:e >>=")
    assert toks == [
        "local", "a", "=", "[==[x]]y]==]", "b", "=", "'q'", ":: x ::", "lbl", "::", "::", "T", "c", "->",
        "d", "?:", "e", ">", ">", "=",
    ]  # fmt: skip


def test_tokenizer_handles_deep_and_unterminated_brackets() -> None:
    assert tokenize("x = [=====[a]]b]=====] y --[======[ c ]======] z") == ["x", "=", "[=====[a]]b]=====]", "y", "z"]
    assert tokenize("a --[====[ never closed") == ["a"]
    assert tokenize("a 'open\nb") == ["a"]
    assert tokenize("#!/usr/bin/lua\nx") == ["x"]


# ---------------------------------------------------------------------------------------------
# the failures of issue 10 item 1, each stripped to plain Lua that compiles
# ---------------------------------------------------------------------------------------------

KNOWN_FAILURES: list[tuple[str, tuple[str, ...]]] = [
    ("type A = Channel<string>\ntype B = number\nreturn 1", ("type A = Channel<string>", "type B = number")),
    ("local c: Chan<T>\ntype X = {a: T}\nreturn c", (": Chan<T>", "type X = {a: T}")),
    ("local v = 1\nlocal w = v :: number\nreturn w", (":: number",)),
    ("type C = {host: string, timeout?: number}\nreturn 1", ("type C = {host: string, timeout?: number}",)),
    ("local r: readonly {string} = {}\nreturn r", (": readonly {string}",)),
    ("type Name = string @min_len(3)\nreturn 1", ("type Name = string @min_len(3)",)),
    ("local n: number @min(0) @max(10) = 5\nreturn n", (": number @min(0) @max(10)",)),
    ("local u = {name = 'a'}\nreturn (u!).name", ("!",)),
    ("interface I\n  function m(a: T): R\nend\nreturn 1", ("interface I\n  function m(a: T): R\nend",)),
]


@pytest.mark.parametrize(("typed", "parts"), KNOWN_FAILURES)
def test_issue_10_known_failures(typed: str, parts: tuple[str, ...]) -> None:
    expected = blanked(typed, *parts)
    assert strip_types(typed) == expected
    lupa.LuaRuntime().compile(expected)


def test_labels_split_by_comments_are_not_casts() -> None:
    src = "local x = 1\n::--[[ why not ]] done ::\ngoto done"
    assert strip_types(src) == src


def test_shebang_line_is_not_lexed() -> None:
    src = "#!/usr/bin/env lua\nlocal x: number = 1"
    assert strip_types(src) == blanked(src, ": number")


# ---------------------------------------------------------------------------------------------
# the corpus: every construct of typed-lua.md, run in a LuaSandbox
# ---------------------------------------------------------------------------------------------


def corpus(kind: str) -> list[Path]:
    paths = sorted(p for p in CORPUS.glob("*.lua") if re.search(rf"^-- {kind}: ", p.read_text(), re.M))
    assert paths, kind
    return paths


def header(path: Path, kind: str) -> str:
    m = re.search(rf"^-- {kind}: (.*)$", path.read_text(), re.M)
    assert m
    return m.group(1)


def test_every_corpus_file_has_an_expectation() -> None:
    files = sorted(CORPUS.glob("*.lua"))
    assert len(files) >= 20
    assert set(files) == set(corpus("expect")) | set(corpus("error")) | set(corpus("raises"))


@pytest.mark.parametrize("path", corpus("expect"), ids=lambda p: p.stem)
def test_corpus_runs(path: Path) -> None:
    source = path.read_text()
    stripped = strip_types(source)
    assert_shape(source, stripped)
    out = LuaSandbox().execute(source, f"corpus/{path.name}")
    values = list(out) if isinstance(out, tuple) else [out]
    assert values == json.loads(header(path, "expect"))


@pytest.mark.parametrize("path", corpus("error"), ids=lambda p: p.stem)
def test_corpus_syntax_errors_cite_the_original_line(path: Path) -> None:
    line, pattern = header(path, "error").split(": ", 1)
    with pytest.raises(LuaError) as info:
        LuaSandbox().compile(path.read_text(), f"corpus/{path.name}")
    assert info.value.location.line == int(line), str(info.value)
    assert info.value.location.file == f"corpus/{path.name}"
    assert re.search(pattern, str(info.value)), str(info.value)


@pytest.mark.parametrize("path", corpus("raises"), ids=lambda p: p.stem)
def test_corpus_run_time_errors_cite_the_original_line(path: Path) -> None:
    line, pattern = header(path, "raises").split(": ", 1)
    sb = LuaSandbox()
    fn = sb.compile(path.read_text(), f"corpus/{path.name}")
    with pytest.raises(LuaError) as info:
        sb.call(fn)
    assert info.value.location.line == int(line), str(info.value)
    assert re.search(pattern, str(info.value)), str(info.value)


# ---------------------------------------------------------------------------------------------
# run-time type values: what prepare() hands the sandbox
# ---------------------------------------------------------------------------------------------


def test_plain_chunks_need_no_type_values() -> None:
    src = "local t = {}\nreturn string.format('%d', #t), type(t)"
    assert prepare(src) == (src, None)


def test_type_value_call_sites_are_rewritten_on_their_line() -> None:
    src = "type P = {x: number}\nlocal a = P:is(v)\nlocal b = number(1) + P.kind()\nlocal c = string(s)"
    code, spec = prepare(src)
    assert code.split("\n")[1:] == [
        "local a = __duralua_types.P:is(v)",
        "local b = __duralua_types.number(1) + __duralua_types.P.kind()",
        "local c = string(s)",  # the sandbox's checked cast
    ]
    assert spec == '{{"P",false,{"record",{{"x",{"ref","number"},false}}},false}}'


@pytest.mark.parametrize(
    "src",
    [
        "local number = f\nreturn number(1)",  # a local shadows the type name
        "local function integer(x) return x end\nreturn integer(1)",
        "local t = {}\nfunction t.f(number) return number(1) end",
        "for _, any in pairs(t) do any(1) end",
        "return t.number(1), t:integer(2), x.P:is(3)",  # fields and methods are not type names
        "do type P = {} end\nreturn P(1)",  # aliases in blocks are erased only
        "local string = s\nreturn string:is(1)",
        "return number.is, Q:is(1)",  # not a call / not a type
    ],
)
def test_shadowed_or_non_type_names_are_not_rewritten(src: str) -> None:
    assert "__duralua_types." not in prepare(src).code


def test_shadowing_ends_with_the_block() -> None:
    src = "do local number = f end\nreturn number(1)"
    assert "__duralua_types.number(1)" in prepare(src).code
    src = "local function f(number) return number end\nreturn number(1), f"
    assert "__duralua_types.number(1)" in prepare(src).code


def test_spec_literals_are_one_line_lua() -> None:
    src = 'type S = "a\\nb" | [[\nlong\n]] | -1 | 0x10\ntype A = string @pattern("^x") @min_len(2)'
    _, spec = prepare(src)
    assert spec is not None and "\n" not in spec
    assert '{"lit","a\\010b"}' in spec and '{"lit","long\\010"}' in spec and '{"lit",-1}' in spec
    assert '{"ann",{"ref","string"},{{"pattern","^x"},{"min_len",2}}}' in spec


def test_type_values_with_an_inline_yaml_offset() -> None:
    sb = LuaSandbox()
    fn = sb.compile("type P = {x: number}\nlocal v = P({x = 'no'})", "app.yaml", first_line=10)
    with pytest.raises(LuaError, match="x: expected number, got string") as info:
        sb.call(fn)
    assert info.value.location.line == 11


def test_type_values_do_not_leak_between_chunks() -> None:
    sb = LuaSandbox()
    env = sb.make_globals()
    sb.execute("type P = {x: number}", "a.lua", env=env)
    assert sb.execute("return P:kind(), P.x:name()", "b.lua", env=env) == ("record", "number")
    # the global stays the first chunk's; the call shapes use this chunk's declaration
    source = "type P = {y: string}\nreturn P.x:name(), P.y, P:is({y = 's'}) ~= nil"
    assert sb.execute(source, "c.lua", env=env) == ("number", None, True)
    assert sb.execute("P = 1\ntype Q = {}\nreturn P", "d.lua", env=sb.make_globals()) == 1


def test_globals_set_before_are_kept() -> None:
    sb = LuaSandbox()
    env = sb.make_globals()
    sb.execute("Point = 'mine'", "a.lua", env=env)
    assert sb.execute("type Point = {x: number}\nreturn Point, Point:kind()", "b.lua", env=env) == ("mine", "record")


def test_absurdly_nested_types_are_left_for_lua_to_report() -> None:
    deep = "type D = " + "{" * 3000 + "number" + "}" * 3000 + "\nreturn 1"
    assert strip_types(deep) == deep  # no RecursionError: Lua reports a syntax error at line 1
    with pytest.raises(LuaError) as info:
        LuaSandbox().compile(deep, "d.lua")
    assert info.value.location.line == 1
    # deeper than Lua's parser takes as a constructor: the chunk runs, builtins still work
    nested = "type D = " + "{" * 150 + "number" + "}" * 150 + "\nreturn number:is(1)"
    assert LuaSandbox().execute(nested, "n.lua") == (1, None)


def test_as_followed_by_parentheses_is_a_cast_only_to_a_function_type() -> None:
    assert strip_types("local y = f as(x)") == "local y = f as(x)"  # ``f`` then a call of ``as``
    src = "local g = f as (number) -> string"
    assert strip_types(src) == blanked(src, "as (number) -> string")
    src = "local h = f :: ((number) -> string)?"
    assert strip_types(src) == blanked(src, ":: ((number) -> string)?")
