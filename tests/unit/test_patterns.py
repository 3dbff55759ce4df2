"""Budget-aware string matching (patterns.lua, lmatch.lua) and the other bounded C calls.

The differential tests load patterns.lua in a plain ``lupa.lua54`` runtime next to the C
functions and call both from the same Lua line, so that results, error messages and their
positions must be byte-for-byte equal: once with every match forced through the Lua port of
the matcher, once with the wrappers deciding (C or port) as they do in the sandbox.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import lupa.lua54 as lupa
import pytest

from duralua.errors import BudgetExceeded, LuaError
from duralua.lua import sandbox as sandbox_module
from duralua.lua.sandbox import LuaSandbox

HARNESS = r"""
local PATTERNS, LMATCH = ...
local native = { find = string.find, match = string.match, gmatch = string.gmatch,
                 gsub = string.gsub, rep = string.rep, format = string.format,
                 sort = table.sort, move = table.move }
local charged = 0
local W, control = load(PATTERNS, "=prelude", "b")(function(n) charged = charged + n end, { 1 }, LMATCH)

local function show(v)
  if type(v) == "string" then return string.format("%q", v) end
  return type(v) .. ":" .. tostring(v)
end

local function pack(ok, ...)
  local t = { ok = ok, n = select("#", ...), ... }
  return t
end

-- Calls f from this one line, so that error positions match between C and the port.
local function call(f, ...)
  return pack(pcall(function(...)
    local r = table.pack(f(...))
    return table.unpack(r, 1, r.n)
  end, ...))
end

local function gm_all(f, s, p, init)
  local out = {}
  local it = f(s, p, init)
  for _ = 1, 200 do
    local r = table.pack(it())
    if r.n == 0 or r[1] == nil then out[#out + 1] = "end" .. r.n break end
    for i = 1, r.n do out[#out + 1] = show(r[i]) end
    out[#out + 1] = "|"
  end
  return table.concat(out, " ")
end

local function describe(r)
  local out = { tostring(r.ok), tostring(r.n) }
  for i = 1, r.n do out[#out + 1] = show(r[i]) end
  return table.concat(out, " ")
end

local REPL = {}
REPL["function"] = function(...)
  local a = ...
  if a == nil then return nil end
  local s = tostring(a)
  if #s % 3 == 0 then return false end
  if #s % 3 == 1 then return "<" .. s .. ">" end
  return #s
end
REPL.table = setmetatable({ a = "A", b = false, [1] = "one", [2] = 2 }, { __index = function(_, k)
  if k == "ab" then return "AB" end
end })
REPL.badtable = { a = {} }
REPL.badfunction = function() return {} end
REPL.cmp = nil

-- kind, subject, pattern, extra, extra2 -> nil when C and W agree, else a description
local function compare(kind, s, p, a, b)
  local x, y
  if kind == "find" then
    x, y = call(native.find, s, p, a, b), call(W.find, s, p, a, b)
  elseif kind == "match" then
    x, y = call(native.match, s, p, a), call(W.match, s, p, a)
  elseif kind == "gmatch" then
    x, y = call(gm_all, native.gmatch, s, p, a), call(gm_all, W.gmatch, s, p, a)
  elseif kind == "rep" or kind == "format" then
    x, y = call(native[kind], s, p, a), call(W[kind], s, p, a)
  elseif kind == "sort" or kind == "move" then
    local t1, t2 = { s, p, a, b }, { s, p, a, b }
    local function run(f, t)
      if kind == "sort" then f(t, REPL.cmp) else f(t, 1, 3, 2) end
      return t[1], t[2], t[3], t[4], t[5]
    end
    x, y = call(run, native[kind], t1), call(run, W[kind], t2)
  else
    local repl = a
    if REPL[a] then repl = REPL[a] end
    x, y = call(native.gsub, s, p, repl, b), call(W.gsub, s, p, repl, b)
  end
  local dx, dy = describe(x), describe(y)
  if dx ~= dy then return "C: " .. dx .. "\n   W: " .. dy end
  return nil
end

local function run_cases(cases, force)
  control.force = force
  local bad = {}
  for i = 1, #cases do
    local c = cases[i]
    local d = compare(c[1], c[2], c[3], c[4], c[5])
    if d then bad[#bad + 1] = c[1] .. "(" .. show(c[2]) .. ", " .. show(c[3]) .. ", " .. show(c[4])
      .. ", " .. show(c[5]) .. ")\n   " .. d end
    if #bad >= 20 then break end
  end
  control.force = false
  return table.concat(bad, "\n")
end

local function counters()
  return control.ported, charged
end

return { run_cases = run_cases, compare = compare, W = W, control = control, counters = counters,
         call = call, describe = describe, native = native }
"""


class Harness:
    def __init__(self) -> None:
        self.lua: Any = lupa.LuaRuntime(encoding=None, register_eval=False)
        _, patterns, lmatch, *_ = sandbox_module._prelude()
        run = self.lua.execute("return function(src, ...) return load(src, '=harness', 't')(...) end")
        self.h = run(HARNESS.encode(), patterns, lmatch)

    def run_cases(self, cases: list[tuple[Any, ...]], *, force: bool) -> str:
        # encoding=None: a Python str would reach Lua as an opaque object, not a string
        rows = [[v.encode() if isinstance(v, str) else v for v in c] for c in cases]
        table = self.lua.table_from([self.lua.table_from(r) for r in rows])
        out = self.h.run_cases(table, force)
        return out.decode("latin-1") if isinstance(out, bytes) else str(out)

    def counters(self) -> tuple[int, int]:
        ported, charged = self.h.counters()
        return int(ported), int(charged)


@pytest.fixture(scope="module")
def harness() -> Harness:
    return Harness()


# ---------------------------------------------------------------------------------------------
# random cases
# ---------------------------------------------------------------------------------------------

ALPHABET = b"ab ()1_.%]\x00\n\xff-"
CLASSES = [b".", b"%a", b"%d", b"%s", b"%w", b"%x", b"%p", b"%l", b"%u", b"%c", b"%g", b"%A", b"%S",
           b"%W", b"%D", b"%%", b"%.", b"%]", b"%(", b"%-", b"%z", b"%\xff", b"[ab]", b"[^ab]", b"[a-c]",
           b"[%d_]", b"[]]", b"[^]a]", b"[a-]", b"[%a-z]", b"[%]]", b"[^%s%d]", b"[\x00-\x1f]", b"[(]"]  # fmt: skip
LITERALS = [b"a", b"b", b" ", b"1", b"_", b"]", b"-", b"\x00", b"\xff", b"\n", b"^", b"$"]
SPECIAL = [b"%b()", b"%bab", b"%f[%w]", b"%f[^a]", b"%f[%z]", b"()", b"%1", b"%2", b"%0"]
BROKEN = [b"%", b"[a", b"[", b"[^", b"(", b")", b"%f", b"%fa", b"%b", b"%ba", b"%9", b"[%"]


def random_pattern(rng: random.Random) -> bytes:
    parts: list[bytes] = []
    if rng.random() < 0.25:
        parts.append(b"^")
    depth = 0
    for _ in range(rng.randint(0, 6)):
        r = rng.random()
        if r < 0.35:
            item = rng.choice(LITERALS)
        elif r < 0.7:
            item = rng.choice(CLASSES)
        elif r < 0.8 and depth < 3:
            parts.append(b"(")
            depth += 1
            continue
        elif r < 0.88 and depth > 0:
            parts.append(b")")
            depth -= 1
            continue
        else:
            parts.append(rng.choice(SPECIAL))
            continue
        if rng.random() < 0.45:
            item += rng.choice([b"*", b"+", b"-", b"?"])
        parts.append(item)
    parts.extend([b")"] * depth if rng.random() < 0.85 else [])
    if rng.random() < 0.15:
        parts.append(b"$")
    if rng.random() < 0.06:
        parts.insert(rng.randint(0, len(parts)), rng.choice(BROKEN))
    return b"".join(parts)


def random_subject(rng: random.Random) -> bytes:
    alphabet = ALPHABET if rng.random() < 0.5 else b"ab ("  # dense: more matches
    return bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 14)))


def random_init(rng: random.Random) -> int | None:
    return None if rng.random() < 0.4 else rng.randint(-18, 18)


REPLS = [b"x", b"%0", b"%1", b"<%1%2>", b"%%", b"%", b"a%", b"%x", b"%3", b"", b"%1%0%1", 7, 2.5, "function",
         "table", "badtable", "badfunction"]  # fmt: skip


def random_cases(seed: int, count: int) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(seed)
    for _ in range(count):
        kind = rng.choice(["find", "find", "match", "gmatch", "gsub", "gsub"])
        s, p = random_subject(rng), random_pattern(rng)
        if kind == "find":
            yield kind, s, p, random_init(rng), rng.random() < 0.15
        elif kind in ("match", "gmatch"):
            yield kind, s, p, random_init(rng), None
        else:
            yield kind, s, p, rng.choice(REPLS), None if rng.random() < 0.7 else rng.randint(-1, 3)


# A hand-written corpus: corners of lstrlib.c that random patterns rarely reach.
CORPUS: list[tuple[Any, ...]] = [
    ("find", b"hello world", b"o w", None, None),
    ("find", b"hello", b"l+", None, None),
    ("find", b"hello", b"", 10, None),
    ("find", b"hello", b"", 6, None),
    ("find", b"hello", b"", 7, None),
    ("find", b"hello", b"", -100, None),
    ("find", b"a.b", b".", 1, True),
    ("find", b"a+b", b"+", None, None),
    ("find", b"abc", b"b)", None, None),
    ("find", b"abc", b"x[a", None, None),
    ("find", b"abc", b"b[a", None, None),
    ("find", b"abc", b"[a", None, None),
    ("find", b"abc", b"%", None, None),
    ("find", b"abc", b"x%", None, None),
    ("find", b"abc", b"(a", None, None),
    ("find", b"abc", b"(a)(", None, None),
    ("find", b"abc", b"a)", None, None),
    ("find", b"abc", b"%1", None, None),
    ("find", b"abc", b"(a)%2", None, None),
    ("find", b"abc", b"(a%1)", None, None),
    ("find", b"abc", b"%0", None, None),
    ("find", b"abc", b"%f", None, None),
    ("find", b"abc", b"%fa", None, None),
    ("find", b"abc", b"%b", None, None),
    ("find", b"abc", b"%ba", None, None),
    ("find", b"THE (quick) fox", b"%f[%a]%a+", None, None),
    ("find", b"THE (quick) fox", b"%f[%a]%a+%f[%A]", 5, None),
    ("find", b"x = (a(b)c) + (d)", b"%b()", None, None),
    ("find", b"x = (a(b c) + (d)", b"%b()", None, None),
    ("find", b"abcabc", b"(a)(b)(c)%3%2", None, None),
    ("find", b"hello hello", b"(h%a+) %1", None, None),
    ("find", b"  trim  ", b"^%s*(.-)%s*$", None, None),
    ("find", b"key = value", b"^(%w+)%s*=%s*(.-)$", None, None),
    ("find", b"abc", b"()a()", None, None),
    ("find", b"abc", b"()", 4, None),
    ("find", b"a$b", b"$b", None, None),
    ("find", b"a$", b"a$", None, None),
    ("find", b"a^b", b"a^b", None, None),
    ("find", b"^ab", b"^^", None, None),
    ("find", b"aaa", b"a-$", None, None),
    ("find", b"[]]", b"[]]", None, None),
    ("find", b"a-b", b"[a-]", 2, None),
    ("find", b"\x00a\x00", b"%z", None, None),
    ("find", b"\x00a\x00", b"[%z]", None, None),
    ("find", b"\x00a\x00", b"\x00", 2, None),
    ("find", b"\x00a\x00", b"%f[%Z]", None, None),
    ("find", b"abc", b"a" * 40, None, None),
    ("find", b"a" * 40, b"(" * 33 + b")" * 33, None, None),
    ("find", b"a" * 40, b"(" * 32 + b"a" + b")" * 32, None, None),
    ("find", b"a" * 220, b"a?" * 210, None, None),
    ("find", b"a" * 220, b"a?" * 199, None, None),
    ("find", b"a" * 220, b"a?" * 198 + b"()", None, None),
    ("find", b"a" * 30, b"(a-)" * 31, None, None),
    ("find", 123, 2, None, None),
    ("find", 1.5, b"%.", None, None),
    ("find", None, b"x", None, None),
    ("find", b"x", None, None, None),
    ("find", b"x", b"x", b"1", None),
    ("find", b"x", b"x", b"a", None),
    ("find", b"x", b"x", 1.5, None),
    ("find", b"x", b"x", 2.0, None),
    ("match", b"hello world", b"(%w+) (%w+)", None, None),
    ("match", b"hello", b"()ll()", None, None),
    ("match", b"hello", b"(h)(e)(l)(l)(o)()", None, None),
    ("match", b"hello", b".-", -2, None),
    ("match", b"hello", b"^(h)", 2, None),
    ("match", b"key=val", b"^(%w+)=(.*)$", None, None),
    ("match", b"abc", b"((a)(b))", None, None),
    ("match", b"abc", b"(a", None, None),
    ("gmatch", b"one two  three", b"%a+", None, None),
    ("gmatch", b"one two  three", b"%a*", None, None),
    ("gmatch", b"one two  three", b"()", None, None),
    ("gmatch", b"one two three", b"%a+", 5, None),
    ("gmatch", b"one two three", b"%a+", -5, None),
    ("gmatch", b"one two three", b"%a+", 100, None),
    ("gmatch", b"^a^a", b"^a", None, None),
    ("gmatch", b"k=v, a=b", b"(%w+)=(%w+)", None, None),
    ("gmatch", b"abc", b"[", None, None),
    ("gmatch", b"abc", b"x[", None, None),
    ("gmatch", b"abc", b"(b", None, None),
    ("gsub", b"hello world", b"o", b"0", None),
    ("gsub", b"hello world", b"(o)", b"[%1%0%%]", None),
    ("gsub", b"hello world", b"", b"-", None),
    ("gsub", b"hello world", b"%w*", b"<%0>", None),
    ("gsub", b"hello world", b"^h", b"H", None),
    ("gsub", b"hello world", b"^", b">", None),
    ("gsub", b"hello world", b"$", b"<", None),
    ("gsub", b"hello world", b"l", b"L", 2),
    ("gsub", b"hello world", b"l", b"L", 0),
    ("gsub", b"hello world", b"l", b"L", -1),
    ("gsub", b"hello world", b"(l)", b"%2", None),
    ("gsub", b"hello world", b"l", b"%2", None),
    ("gsub", b"hello world", b"l", b"%1", None),
    ("gsub", b"hello world", b"x", b"%2", None),
    ("gsub", b"hello world", b"l", b"%", None),
    ("gsub", b"hello world", b"l", b"ab%c", None),
    ("gsub", b"hello world", b"()l", b"%1", None),
    ("gsub", b"hello world", b"(l", b"%1", None),
    ("gsub", b"hello world", b"%w+", "function", None),
    ("gsub", b"hello world", b"(%w)(%w*)", "function", None),
    ("gsub", b"hello world", b"()%w", "function", None),
    ("gsub", b"a b ab", b"%w+", "table", None),
    ("gsub", b"a b ab", b"()%w+", "table", None),
    ("gsub", b"a b ab", b"%w+", "badtable", None),
    ("gsub", b"a b ab", b"%w+", "badfunction", None),
    ("gsub", b"a b ab", b"%w+", None, None),
    ("gsub", b"a b ab", b"%w+", True, None),
    ("gsub", b"a b ab", b"%w+", b"x", b"2"),
    ("gsub", b"a b ab", b"%w+", b"x", b"z"),
    ("gsub", b"a b ab", b"%w+", None, b"z"),
    ("gsub", 12345, b"%d", 9, None),
    ("gsub", b"abc", b"%f[%w]", b"|", None),
    ("gsub", b"abc", b".-", b"|", None),
]


# The other replaced functions: same results and messages as C on ordinary and bad arguments.
OTHERS: list[tuple[Any, ...]] = [
    ("rep", b"x", 3, None),
    ("rep", b"x", 3, b", "),
    ("rep", b"", 5, None),
    ("rep", b"", 5, b"-"),
    ("rep", b"ab", 0, b"-"),
    ("rep", b"ab", -1, None),
    ("rep", 12, 2, 3),
    ("rep", b"x", b"3", None),
    ("rep", b"x", 2.5, None),
    ("rep", b"x", 2.0, None),
    ("rep", b"x", None, None),
    ("rep", None, 2, None),
    ("rep", b"x", 2**31, None),
    ("rep", b"x", 2, True),
    ("format", b"%d|%5.2f", 1, 1.5),
    ("format", b"%q", b"a\x00b\n\x01", None),
    ("format", b"%q", 1.5, None),
    ("format", b"%s %s", b"x", None),
    ("format", b"%d", b"x", None),
    ("format", b"%d", None, None),
    ("format", b"%y", 1, None),
    ("format", b"%1000d", 1, None),
    ("format", None, None, None),
    ("format", b"%5s", b"\x00", None),
    ("sort", 3, 1, 2, None),
    ("sort", b"b", b"a", b"c", None),
    ("sort", 3, b"a", 1, None),
    ("move", 1, 2, 3, 4),
]


def test_other_replaced_functions_match_c(harness: Harness) -> None:
    assert harness.run_cases(OTHERS, force=False) == ""


def test_corpus_port_and_wrappers_match_c(harness: Harness) -> None:
    assert harness.run_cases(CORPUS, force=True) == ""
    assert harness.run_cases(CORPUS, force=False) == ""


@pytest.mark.parametrize("seed", range(8))
def test_random_patterns_port_matches_c(harness: Harness, seed: int) -> None:
    cases = list(random_cases(seed, 2000))
    assert harness.run_cases(cases, force=True) == ""


@pytest.mark.parametrize("seed", range(100, 104))
def test_random_patterns_wrappers_match_c(harness: Harness, seed: int) -> None:
    cases = list(random_cases(seed, 2000))
    assert harness.run_cases(cases, force=False) == ""


def test_long_subjects_port_matches_c(harness: Harness) -> None:
    rng = random.Random(7)
    cases: list[tuple[Any, ...]] = []
    for _ in range(300):
        s = bytes(rng.choice(b"ab  ()1_\n") for _ in range(rng.randint(50, 400)))
        p = random_pattern(rng)
        kind = rng.choice(["find", "match", "gmatch", "gsub"])
        cases.append((kind, s, p, b"<%0>" if kind == "gsub" else random_init(rng), None))
    assert harness.run_cases(cases, force=True) == ""


# ---------------------------------------------------------------------------------------------
# choosing between C and the port
# ---------------------------------------------------------------------------------------------

ORDINARY = [
    ("find", b"x" * 5000 + b"needle", b"needle", None, None),
    ("find", b"x" * 5000 + b"needle", b"needle", None, True),
    ("find", b"a=1, b=2" * 500, b"%d+", 100, None),
    ("match", b"key = value with spaces", b"^(%w+)%s*=%s*(.-)%s*$", None, None),
    ("match", b"2024-01-31T10:00:00Z", b"^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)", None, None),
    ("gmatch", b"one,two,three," * 1000, b"([^,]+)", None, None),
    ("gsub", b"a  b   c " * 2000, b"%s+", b" ", None),
    ("gsub", b"Hello $name, you owe $amount" * 100, b"%$(%w+)", "table", None),
    ("gsub", b"  padded  " * 10, b"^%s+", b"", None),
]


def test_ordinary_uses_stay_in_c(harness: Harness) -> None:
    before, _ = harness.counters()
    assert harness.run_cases(ORDINARY, force=False) == ""
    after, _ = harness.counters()
    assert after == before


def test_pathological_patterns_go_to_the_port(harness: Harness) -> None:
    before, _ = harness.counters()
    # worst cases far beyond C's share, though these subjects are cheap for both
    cases = [
        ("find", b"a" * 60, b".-.-.-b", None, None),
        ("find", b"a" * 1000, b".-b", None, None),
        ("gsub", b"ab" + b"c" * 3000 + b"ab", b"a(.-)b", b"<%1>", None),
        ("match", b"a" * 2000 + b"b", b"a*a*a*b", None, None),
        ("gmatch", b"k=v;" * 500, b"(.-)=(.-);", None, None),
    ]
    assert harness.run_cases(cases, force=False) == ""
    after, _ = harness.counters()
    assert after - before == len(cases)


# ---------------------------------------------------------------------------------------------
# in the sandbox: the budget stops what C could not
# ---------------------------------------------------------------------------------------------


def run(sb: LuaSandbox, source: str) -> Any:
    return sb.execute(source, "src/app/p.lua")


@pytest.mark.parametrize(
    "expr",
    [
        'string.rep("a", 800):find(".-.-.-b")',
        'string.rep("a", 400):match(".-.-.-b")',
        'string.rep("a", 5000):gsub("(.-)(.-)(.-)b", "x")',
        'select(2, pcall(string.gsub, string.rep("(", 3000), "%b()%b()", "x"))',
        'string.rep("", 1e15)',
        'string.rep("", 1e15, "")',
        "table.move({}, 1, 1e15, 2)",
        'string.rep("a", 2000000):find(string.rep("a", 100000) .. "b", 1, true)',
    ],
)
def test_runaway_c_calls_end_with_the_budget_error(expr: str) -> None:
    sb = LuaSandbox(instruction_budget=1_000_000)
    source = f"local r = {expr}\nfor i = 1, 10 do r = {expr} end\nreturn 1"
    if 'rep("", 1e15' in expr:
        assert run(sb, f"local r = {expr}\nreturn #r") == 0  # empty: C is never asked
        return
    with pytest.raises(BudgetExceeded) as info:
        run(sb, source)
    assert info.value.location.file == "src/app/p.lua"


def test_pathological_match_fails_at_the_same_count_every_time() -> None:
    # deterministic: the budget counts instructions, so one extra instruction of headroom
    # decides the same way in every state
    outcomes = set()
    for _ in range(3):
        sb = LuaSandbox(instruction_budget=300_000)
        try:
            run(sb, 'local n = 0\nfor i = 1, 40 do n = n + (("a"):rep(i * 4):find(".-.-b") or 0) end\nreturn n')
            outcomes.add("ok")
        except BudgetExceeded as exc:
            outcomes.add(str(exc))
    assert len(outcomes) == 1


def test_sort_and_huge_results_are_charged() -> None:
    sb = LuaSandbox(instruction_budget=2_000_000)
    with pytest.raises(BudgetExceeded):
        run(sb, "local t = {}\nfor i = 1, 200000 do t[i] = -i end\ntable.sort(t)\nreturn #t")
    assert run(sb, "local t = {}\nfor i = 1, 20000 do t[i] = -i end\ntable.sort(t)\nreturn t[1]") == -20000
    with pytest.raises(BudgetExceeded):
        run(sb, 'local s = ""\nfor i = 1, 200 do s = string.rep("x", 100000) end\nreturn #s')
    with pytest.raises(BudgetExceeded):
        run(sb, 'local s = string.rep("\\1", 1000000)\nlocal q = string.format("%q", s)\nreturn #q')


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("table.unpack({}, 1, 1e8)", "too many results to unpack"),
        ('string.rep("x", 2000000):byte(1, -1)', "string slice too long"),
        ('string.format("%1000d", 1)', "invalid conversion"),
        ('string.rep("x", 2 ^ 31)', "resulting string too large"),
    ],
)
def test_other_c_calls_are_bounded_by_lua_itself(expr: str, message: str) -> None:
    # the C stack (1,000,000 slots), format's two-digit widths and rep's size check stop
    # these at once; the memory limit bounds the rest (docs/limitations.md)
    with pytest.raises(LuaError, match=message):
        run(LuaSandbox(instruction_budget=5_000_000), f"local r = {expr}\nreturn r")


def test_ordinary_code_keeps_working_under_a_small_budget() -> None:
    # ~6,000 instructions in plain Lua 5.4; the wrappers and their charges make it ~240,000
    sb = LuaSandbox(instruction_budget=1_000_000)
    out = run(
        sb,
        """
        local csv = string.rep("alpha, beta,gamma ,  delta\\n", 200)
        local n, words = 0, {}
        for line in csv:gmatch("[^\\n]+") do
          for field in line:gmatch("[^,]+") do
            local w = field:match("^%s*(.-)%s*$")
            n = n + 1
            words[w] = true
          end
        end
        local s = csv:gsub("%s+", " "):upper()
        return n, s:find("GAMMA", 1, true), ("x"):rep(10, ","), string.format("%5.2f|%s", 1.5, "q")
        """,
    )
    assert out == (800, 13, "x,x,x,x,x,x,x,x,x,x", " 1.50|q")


def test_methods_and_library_share_the_wrappers() -> None:
    sb = LuaSandbox()
    out = run(
        sb,
        """
        local s = string.rep("ab", 3000) .. "c"
        local a = {s:find("a.-c")}
        local b = {string.find(s, "a.-c")}
        local ok, err = pcall(function() local x = s:find("(") return x end)
        return a[1], a[2], b[1], b[2], err
        """,
    )
    assert out == (1, 6001, 1, 6001, "src/app/p.lua:5: unfinished capture")


def test_error_positions_and_names_follow_c() -> None:
    sb = LuaSandbox()

    def err(body: str) -> str:
        with pytest.raises(LuaError) as info:
            run(sb, body)
        return str(info.value)

    assert err('local x = ("abc"):find(nil)\nreturn x') == (
        "src/app/p.lua:1: bad argument #1 to 'find' (string expected, got nil)"
    )
    assert err('local f = string.gsub\nlocal x = f("a", "a", true)\nreturn x') == (
        "src/app/p.lua:2: bad argument #3 to 'f' (string/function/table expected, got boolean)"
    )
    assert err('local x = string.rep("a", 800):find(".-.-.-a[")\nreturn x') == (
        "src/app/p.lua:1: malformed pattern (missing ']')"
    )
    assert err('local x = ("%d"):format(nil)\nreturn x') == (
        "src/app/p.lua:1: bad argument #1 to 'format' (number expected, got nil)"
    )
    assert err('local x = string.format("%1000d", 1)\nreturn x').startswith("src/app/p.lua:1: invalid conversion")
    assert err("local x = table.sort({1, 2}, 3)\nreturn x") == (
        "src/app/p.lua:1: bad argument #2 to 'sort' (function expected, got number)"
    )
    assert err("local x = table.move({}, 1, 2)\nreturn x") == (
        "src/app/p.lua:1: bad argument #4 to 'move' (number expected, got nil)"
    )
    assert err('local x = string.gsub("ab", "a", function() return {} end)\nreturn x') == (
        "src/app/p.lua:1: invalid replacement value (a table)"
    )


def test_sort_errors_keep_their_messages() -> None:
    sb = LuaSandbox()
    with pytest.raises(LuaError, match=r"attempt to compare (number with string|string with number)"):
        run(sb, 'table.sort({3, "x", 1})')
    with pytest.raises(LuaError, match=r"src/app/p.lua:2: boom"):
        run(sb, 'table.sort({3, 2, 1}, function(a, b)\nerror("boom") end)')
    assert run(sb, "local t = {3, 1, 2}\ntable.sort(t, function(a, b) return a > b end)\nreturn t[1], t[3]") == (3, 1)
    with pytest.raises(LuaError, match="invalid order function for sorting"):
        run(sb, "local t = {}\nfor i = 1, 100 do t[i] = i % 7 end\ntable.sort(t, function() return true end)")


@pytest.mark.parametrize(
    "expr",
    [
        '("abc"):gsub("b", function() coroutine.yield(1) end)',  # C
        '("ab" .. string.rep("c", 5000)):gsub("a.-b", function() coroutine.yield(1) end)',  # port
        '("ab" .. string.rep("c", 5000)):gsub("a.-b", setmetatable({}, {__index = function() coroutine.yield(1) end}))',
    ],
)
def test_no_yield_inside_gsub_callbacks(expr: str) -> None:
    sb = LuaSandbox()
    fn = sb.compile(f"local r = {expr}\nreturn r", "src/app/p.lua")
    thread = sb.new_thread(fn)
    with pytest.raises(LuaError, match="attempt to yield across a C-call boundary"):
        sb.resume(thread)


def test_the_port_handles_gsub_callbacks_that_match_again() -> None:
    sb = LuaSandbox()
    out = run(
        sb,
        """
        local s = "ab" .. string.rep("c", 5000) .. "ab"
        local r, n = s:gsub("a.-b", function(m)
          local inner = (string.rep("xy", 3000) .. "z"):gsub("x.-z", "Z")
          return #inner .. m:upper()
        end)
        return n, r:sub(1, 9), #r
        """,
    )
    assert out == (2, "1ABcccccc", 5006)
