"""rng.lua, the Lua port of Lua 5.4's math.random / math.randomseed, against the C functions.

Every test loads rng.lua into a fresh ``lupa.lua54`` runtime next to its C ``math.random`` and
compares the two differentially: whole traces of calls (every result, every error message, and
the generator state after it) from the same seeds, so a wrong float conversion, projection,
rejection loop or seeding shows up as a different value somewhere in a trace. The calls go
through the same line of the same chunk for both, so error messages must be byte-for-byte equal
including their position and the called name.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from lupa import lua54

import duralua

RNG_LUA = Path(duralua.__file__).parent / "lua" / "rng.lua"

Case = tuple[int, int | None, list[int]]  # seed n1, n2 (None: randomseed(n1)), indexes into the pool

MININT = -(2**63)
MAXINT = 2**63 - 1

HARNESS = r"""
local R = ...
local unpack, format, mtype, pcall, tostring, type = table.unpack, string.format, math.type, pcall,
  tostring, type

local function show(v)
  local t = mtype(v)
  if t == "integer" then return format("%d", v) end
  if t == "float" then return format("%a", v) end -- bit-exact
  return type(v) .. ":" .. tostring(v)
end

local function invoke(f, a)
  local r1, r2 = f(unpack(a, 1, a.n)) -- one line for C and the port: the same error text
  return r1, r2
end

local function step(M, op)
  local ok, r1, r2 = pcall(invoke, M[op.fn], op)
  if ok then return show(r1) .. " " .. show(r2) end
  return "error: " .. tostring(r1)
end

-- 4 full outputs after a trace: the generator states must agree too
local function tail(M, out)
  for _ = 1, 4 do out[#out + 1] = show(M.random(0)) end
  return out
end

local function trace_c(case, pool)
  math.randomseed(case[1], case[2])
  local ops, out = case[3], {}
  for i = 1, #ops do out[i] = step(math, pool[ops[i]]) end
  return tail(math, out)
end

local function trace_port(case, pool)
  R.current = R.new(case[1], case[2])
  local ops, out = case[3], {}
  for i = 1, #ops do out[i] = step(R, pool[ops[i]]) end
  return tail(R, out)
end

-- cases: { {n1, n2, {op index, ...}}, ... }; returns the mismatches (at most `limit`) and the calls compared
local function compare(cases, pool, limit)
  local bad, count = {}, 0
  for k = 1, #cases do
    local c = cases[k]
    local x, y = trace_c(c, pool), trace_port(c, pool)
    for i = 1, #x do
      if x[i] ~= y[i] then
        local op = pool[c[3][i]] or { fn = "random(0) after", n = 0 }
        local args = {}
        for j = 1, op.n do args[j] = show(op[j]) end
        bad[#bad + 1] = format("seed (%s, %s) call %d %s(%s): C %s, port %s", show(c[1]), show(c[2]), i,
          op.fn, table.concat(args, ", "), x[i], y[i])
        break
      end
    end
    count = count + #x
    if #bad >= limit then break end
  end
  return table.concat(bad, "\n"), count
end

-- The same chunk (same name, same lines) run with M = math and M = R from the same seed:
-- outcome, then the next random(0) (a failed call advances the generator too).
local function form(src, seed)
  local results = {}
  for i, M in ipairs({ math, R }) do
    local env = setmetatable({ M = M }, { __index = _G })
    local f = assert(load(src, "=case", "t", env))
    math.randomseed(seed)
    R.current = R.new(seed)
    local ok, a, b = pcall(f)
    results[i] = tostring(ok) .. " " .. (ok and (show(a) .. " " .. show(b)) or tostring(a)) .. " | next "
      .. show(M.random(0))
  end
  return results[1], results[2]
end

return { compare = compare, form = form, show = show }
"""


class Rig:
    """A fresh Lua runtime with rng.lua (``R``) loaded and the comparison harness (``h``)."""

    def __init__(self, source: str | None = None) -> None:
        self.lua: Any = lua54.LuaRuntime()
        src = RNG_LUA.read_text() if source is None else source
        self.R: Any = self.lua.execute("return assert(load(..., '=rng.lua', 't'))()", src)
        self.h: Any = self.lua.execute("return assert(load(..., '=harness', 't'))(select(2, ...))", HARNESS, self.R)

    def table(self, items: dict[Any, Any]) -> Any:
        return self.lua.table_from(items)

    def compare(self, cases: Sequence[Case], pool: list[tuple[Any, ...]], limit: int = 10) -> tuple[str, int]:
        lua_pool = self.lua.table_from([self.op(fn, *args) for fn, *args in pool])
        lua_cases = self.lua.table_from(
            [self.table({1: n1, 2: n2, 3: self.lua.table_from([i + 1 for i in ops])}) for n1, n2, ops in cases]
        )
        bad, count = self.h.compare(lua_cases, lua_pool, limit)
        return str(bad), int(count)

    def op(self, fn: str, *args: Any) -> Any:
        return self.table({"fn": fn, "n": len(args), **{i + 1: a for i, a in enumerate(args)}})

    def form(self, src: str, seed: int = 7) -> tuple[str, str]:
        c, port = self.h.form(src, seed)
        return str(c), str(port)


@pytest.fixture
def rig() -> Rig:
    return Rig()


# ---------------------------------------------------------------------------------------------
# the calls compared
# ---------------------------------------------------------------------------------------------

SEEDS = [0, 1, -1, 2, 7, 42, 255, 256, 1 << 32, MININT, MAXINT, MININT + 1, MAXINT - 1]

# random(m): powers of two and their neighbours (masks with and without rejection), extremes,
# integral floats and numeric strings (luaL_checkinteger converts them)
UPPERS: list[Any] = [1, 2, 3, 5, 6, 7, 8, 9, 10, 16, 17, 100, 1000, 10**9, 2**31, 2**31 + 1, 2**32 - 1]
UPPERS += [2**32 + 1, 2**53 + 1, 2**62 - 1, 2**62, 2**62 + 1, 3 * 2**61, MAXINT - 1, MAXINT]
UPPERS += [3.0, 100.0, 2.0**53, "7", "0x10", " 12 ", "1e2"]

RANGES: list[tuple[Any, Any]] = [
    (1, 1), (0, 0), (-5, -5), (MININT, MININT), (MAXINT, MAXINT),  # m == n
    (-10, 10), (-3, -1), (-1000, -999), (1, 6), (0, 1), (-1, 0),
    (MININT, MAXINT), (MININT, -1), (0, MAXINT), (MININT, 0), (MININT + 1, MAXINT), (MININT, MAXINT - 1),
    (MININT, MININT + 1), (MAXINT - 1, MAXINT), (MININT, MININT + 2), (MAXINT - 2, MAXINT),
    (-(2**62), 2**62),  # n = 2^63: the full mask, about half the draws rejected
    (-(2**62), 2**62 - 1),  # n = 2^63 - 1
    (-(2**62) - 1, 2**62),  # n = 2^63 + 1
    (MININT, 2**62),  # n = 3 * 2^62
    (MININT + 5, -(2**62)), (2**62, MAXINT), (-(2**61), 2**61 + 1),
    (1.0, 6.0), (-3.0, 3), ("1", "6"), ("-0x10", 0x10), (-0.0, 0.0),
]  # fmt: skip

ERRORS: list[tuple[Any, ...]] = [
    ("random", 2, 1), ("random", MAXINT, MININT), ("random", -1), ("random", MININT),  # interval is empty
    ("random", 0.5), ("random", 1, 2.5), ("random", 2.0**63), ("random", -(2.0**63) * 2), ("random", "3.5"),
    ("random", float("inf")), ("random", float("nan")),  # no integer representation
    ("random", 1, 2, 3), ("random", 1, 2, None), ("random", None, None, None),  # wrong number of arguments
    ("random", None), ("random", 1, None), ("random", None, 1), ("random", "x"), ("random", 1, "3.5x"),
    ("random", True), ("random", [1]),  # number expected (a Python object is userdata named POBJECT)
    ("randomseed", 4.5), ("randomseed", "x"), ("randomseed", 1, 2.5), ("randomseed", None),
    ("randomseed", 1, "y"), ("randomseed", 2.0**63), ("randomseed", [1]),
]  # fmt: skip


def seed_ops() -> list[tuple[Any, ...]]:
    ops: list[tuple[Any, ...]] = [("randomseed", s) for s in SEEDS[:6]]
    ops += [("randomseed", 5, -3), ("randomseed", MININT, MAXINT), ("randomseed", 3.0), ("randomseed", "10")]
    ops += [("randomseed", 5, None), ("randomseed", 1, 2, 3), ("randomseed", -0.0, 2.0**62)]
    return ops


def pool_for(rng: random.Random) -> list[tuple[Any, ...]]:
    """Every call form; random() and a few common ranges several times, so they dominate."""
    pool: list[tuple[Any, ...]] = [("random",)] * 12 + [("random", 0), ("random", 0.0), ("random", -0.0)] * 2
    pool += [("random", m) for m in UPPERS] + [("random", m, n) for m, n in RANGES]
    pool += [("random", 1, 6)] * 4 + [("random", 100)] * 4
    for _ in range(40):  # ranges of width 2^k + 1 (n = 2^k: up to half the draws rejected), anywhere
        k = rng.randint(1, 62)
        low = rng.randint(MININT, MAXINT - 2**k)
        pool.append(("random", low, low + 2**k))
    for _ in range(40):  # arbitrary ranges
        a, b = sorted(rng.randint(MININT, MAXINT) for _ in range(2))
        pool.append(("random", a, b))
    for _ in range(20):
        pool.append(("random", rng.randint(1, 2 ** rng.randint(1, 62))))
    return pool + ERRORS + seed_ops()


def random_seed(rng: random.Random) -> int:
    r = rng.random()
    if r < 0.1:
        return rng.choice(SEEDS)
    if r < 0.3:
        return rng.randint(-1000, 1000)
    return rng.randint(MININT, MAXINT)


def cases_for(rng: random.Random, pool: list[tuple[Any, ...]], count: int, length: int) -> list[Case]:
    cases: list[Case] = []
    for i in range(count):
        n2 = None if i % 3 == 0 else random_seed(rng)
        cases.append((random_seed(rng), n2, [rng.randrange(len(pool)) for _ in range(length)]))
    return cases


# ---------------------------------------------------------------------------------------------
# traces
# ---------------------------------------------------------------------------------------------


def test_traces_from_thousands_of_seeds_match_c(rig: Rig) -> None:
    rng = random.Random(5406)
    pool = pool_for(rng)
    fixed: list[Case] = [(s, None, [0] * 20) for s in SEEDS] + [
        (a, b, list(range(len(pool)))) for a in SEEDS for b in SEEDS[:5]
    ]
    cases = fixed + cases_for(rng, pool, 4000, 30)
    bad, count = rig.compare(cases, pool)
    assert bad == ""
    assert count >= 4000 * 34


def test_long_traces_of_each_form_match_c(rig: Rig) -> None:
    rng = random.Random(17)
    pool: list[tuple[Any, ...]] = [("random",), ("random", 0), ("random", 6), ("random", 1, 6), ("random", -5, 5)]
    pool += [("random", -(2**62), 2**62), ("random", MININT, MAXINT), ("random", MININT, MAXINT - 1)]
    pool += [("random", 0, 2**40), ("random", 10**18)]
    cases: list[Case] = [
        (rng.randint(MININT, MAXINT), rng.randint(MININT, MAXINT), [i] * 3000) for i in range(len(pool))
    ]
    cases += [(s, None, [rng.randrange(len(pool)) for _ in range(3000)]) for s in SEEDS]
    bad, count = rig.compare(cases, pool)
    assert bad == ""
    assert count == len(cases) * 3004


def test_initial_state_is_seed_zero(rig: Rig) -> None:
    c = rig.lua.execute(
        "math.randomseed(0) local t = {} for i = 1, 50 do t[i] = math.random(0) end return table.concat(t, ' ')"
    )
    port = rig.lua.execute(
        "local R = ... local t = {} for i = 1, 50 do t[i] = R.random(0) end return table.concat(t, ' ')", rig.R
    )
    assert port == c


def test_randomseed_returns_the_seed_integers(rig: Rig) -> None:
    check = rig.lua.execute("""
      local R = ...
      return function(...)
        local c = table.pack(pcall(math.randomseed, ...))
        local p = table.pack(pcall(R.randomseed, ...))
        local out = {}
        for _, t in ipairs({ c, p }) do
          local s = {}
          for i = 1, t.n do s[i] = math.type(t[i]) or type(t[i]) end
          out[#out + 1] = t.n .. " " .. table.concat(s, ",") .. " " .. (t[1] and (t[2] .. " " .. t[3]) or "")
        end
        return out[1] .. " / " .. out[2], math.random(0) == R.random(0) and "same" or "differ"
      end
    """, rig.R)  # fmt: skip
    rng = random.Random(3)
    args: list[tuple[Any, ...]] = [(s,) for s in SEEDS] + [(a, b) for a in SEEDS for b in SEEDS]
    args += [(rng.randint(MININT, MAXINT), rng.randint(MININT, MAXINT)) for _ in range(1000)]
    args += [(3.0,), ("10",), (5, None), (1, 2, 3), (-0.0, 2.0**62), (" 0x7fffffffffffffff ",), ("-1", "2")]
    for a in args:
        both, state = check(*a)
        c, port = str(both).split(" / ")
        assert port == c, a
        assert state == "same", a
        assert c.startswith("3 boolean,integer,integer "), a


def test_randomseed_reseeds_the_current_state_in_place(rig: Rig) -> None:
    same = rig.lua.execute("""
      local R = ...
      local s = R.current
      local a, b = R.randomseed(99, -4)
      local fresh = R.new(99, -4)
      return R.current == s and a == 99 and b == -4 and #s == 4 and s[1] == fresh[1] and s[2] == fresh[2]
        and s[3] == fresh[3] and s[4] == fresh[4]
    """, rig.R)  # fmt: skip
    assert same is True


def test_randomseed_without_arguments_seeds_from_the_next_two_outputs(rig: Rig) -> None:
    """Not time and address as in C: the generator's own next two outputs (deterministic)."""
    out = rig.lua.execute("""
      local R = ...
      local lines = {}
      for _, seed in ipairs({ 0, 1, -1, math.mininteger, math.maxinteger, 123456789 }) do
        math.randomseed(seed)
        R.current = R.new(seed)
        for _ = 1, 3 do
          local n1, n2 = math.random(0), math.random(0) -- nextrand's raw values
          local c1, c2 = math.randomseed(n1, n2)
          local p1, p2 = R.randomseed()
          local ok = p1 == c1 and p2 == c2 and math.type(p1) == "integer" and math.type(p2) == "integer"
          for _ = 1, 100 do ok = ok and math.random(0) == R.random(0) and math.random(1, 6) == R.random(1, 6) end
          lines[#lines + 1] = tostring(ok)
        end
      end
      return table.concat(lines, " ")
    """, rig.R)  # fmt: skip
    assert out == " ".join(["true"] * 18)


def test_states_from_new_are_independent(rig: Rig) -> None:
    """Calls interleaved on two states give each the sequence it gives alone (and C gives)."""
    out = rig.lua.execute("""
      local R = ...
      local forms = { {}, { 0 }, { 6 }, { 1, 6 }, { -(1 << 62), 1 << 62 }, { math.mininteger, math.maxinteger } }
      local function call(args) return R.random(table.unpack(args)) end
      local function c_seq(n1, n2, k)
        math.randomseed(n1, n2)
        local t = {}
        for i = 1, k do t[i] = math.random(table.unpack(forms[i % #forms + 1])) end
        return t
      end
      local bad = 0
      for round = 1, 50 do
        local n1, n2 = round * 7919 - 200, -round
        local a, b = R.new(n1), R.new(n2, n1)
        local ta, tb = {}, {}
        for i = 1, 400 do
          R.current = a
          ta[i] = call(forms[i % #forms + 1])
          R.current = b
          tb[i] = call(forms[i % #forms + 1])
          if i % 50 == 0 then R.current = R.new(i) R.random() end -- a third state in between
        end
        local ca, cb = c_seq(n1, 0, 400), c_seq(n2, n1, 400)
        for i = 1, 400 do
          if ta[i] ~= ca[i] or tb[i] ~= cb[i] then bad = bad + 1 end
        end
      end
      return bad
    """, rig.R)  # fmt: skip
    assert out == 0


# ---------------------------------------------------------------------------------------------
# errors and call forms
# ---------------------------------------------------------------------------------------------

FORMS = [
    "local x = M.random(2, 1) return x",
    "local x = M.random(-3) return x",
    "local r = M.random; local x = r(2, 1) return x",
    "local r = M.random local function g() local x = r(0.5) return x end local y = g() return y",
    "random = M.random local x = random(5, 4) return x",
    "local x = M:random() return x",
    "local x = M:random(1) return x",
    "local x = M:random(1, 2) return x",
    "local x = M.random(1, 2, 3) return x",
    "local x = M.random(nil) return x",
    "local x = M.random(1, nil) return x",
    "local x = M.random(0.5) return x",
    "local x = M.random(2^63) return x",
    "local x = M.random(1, '3.5x') return x",
    "local x = M.random('3.5') return x",
    "local x = M.random(math.huge) return x",
    "local x = M.random(0/0) return x",
    "local x = M.random({}) return x",
    "local x = M.random(setmetatable({}, { __name = 'Foo' })) return x",
    "local x = M.random(setmetatable({}, { __name = 'Foo', __metatable = false })) return x",
    "local x = M.random(setmetatable({}, { __name = 42 })) return x",
    "local x = M.random(io.stdout) return x",
    "local x = M.random(print) return x",
    "local x = M.random(true) return x",
    "local t = { M.random(2, 1) } return t[1]",
    "local x = M.randomseed(4.5) return x",
    "local x = M.randomseed('x') return x",
    "local x = M.randomseed(1, 2.5) return x",
    "local x = M.randomseed(nil) return x",
    "local x = M.randomseed({}) return x",
    "local x = M:randomseed() return x",
    # no errors: the values and the generator afterwards
    "local x, y = M.randomseed(3.0, '4') return x, y",
    "local x, y = M.randomseed(1, 2, 3) return x, y",
    "local x, y = M.randomseed(-7, nil) return x, y",
    "local x = M.random(0) return x",
    "local x = M.random(-0.0) return x",
    "local x = M.random(3.0) return x",
    "local x = M.random('0x10', ' 20 ') return x",
    "local x = M.random(math.mininteger, math.maxinteger) return x",
    "local x = M.random(math.maxinteger, math.maxinteger) return x",
    "local x = M.random() return x",
]


@pytest.mark.parametrize("src", FORMS)
def test_call_forms_and_errors_match_c(rig: Rig, src: str) -> None:
    for seed in (7, 0, MININT):
        c, port = rig.form(src, seed)
        assert port == c


def test_error_messages_read_like_c(rig: Rig) -> None:
    expected = {
        "local x = M.random(2, 1) return x": "case:1: bad argument #1 to 'random' (interval is empty)",
        "local x = M.random(0.5) return x": (
            "case:1: bad argument #1 to 'random' (number has no integer representation)"
        ),
        "local x = M.random(1, 2, 3) return x": "case:1: wrong number of arguments",
        "local x = M.randomseed(4.5) return x": (
            "case:1: bad argument #1 to 'randomseed' (number has no integer representation)"
        ),
        "local x = M.randomseed('x') return x": "case:1: bad argument #1 to 'randomseed' (number expected, got string)",
    }
    for src, message in expected.items():
        c, port = rig.form(src)
        assert port == c
        assert port.startswith(f"false {message} | next ")


def test_known_differences_without_a_call_site_name(rig: Rig) -> None:
    """Called from C or as a tail call, Lua code cannot see what C sees (documented in rng.lua)."""
    c, port = rig.form("local ok, e = pcall(M.random, 2, 1) return e")  # C: pushglobalfuncname
    assert c.split(" | ")[0] == "true string:bad argument #1 to 'math.random' (interval is empty) nil:nil"
    assert port.split(" | ")[0] == "true string:bad argument #1 to 'random' (interval is empty) nil:nil"
    assert c.split(" | ")[1] == port.split(" | ")[1]  # the generator advanced the same
    c, port = rig.form("return M.random(2, 1)")  # the port's frame replaced the caller's: no position
    assert c.split(" | ")[0] == "false case:1: bad argument #1 to 'random' (interval is empty)"
    assert port.split(" | ")[0] == "false bad argument #1 to 'random' (interval is empty)"
    assert c.split(" | ")[1] == port.split(" | ")[1]


def test_new_checks_its_arguments(rig: Rig) -> None:
    out = rig.lua.execute("""
      local R = ...
      local a = select(2, pcall(function() local s = R.new(4.5) return s end))
      local b = select(2, pcall(function() local s = R.new(1, "x") return s end))
      local s = R.new("5", 2.0)
      local t = R.new(5, 2)
      return a, b, s[1] == t[1] and s[2] == t[2] and s[3] == t[3] and s[4] == t[4]
    """, rig.R)  # fmt: skip
    assert out == (
        "[string \"<python>\"]:3: bad argument #1 to 'new' (number has no integer representation)",
        "[string \"<python>\"]:4: bad argument #2 to 'new' (number expected, got string)",
        True,
    )


# ---------------------------------------------------------------------------------------------
# the comparison catches broken ports
# ---------------------------------------------------------------------------------------------

MUTANTS = [
    ("(rv >> 11) * TWO_M53", "(rv >> 12) * (TWO_M53 * 2)"),  # 52-bit floats
    ("n = n ~ MININT\n  rv = rv & lim\n  while (rv ~ MININT) > n do", "rv = rv & lim\n  while rv > n do"),  # signed
    ("while (rv ~ MININT) > n do", "while false do"),  # no rejection
    ("rv = nextrand(s) & lim", "rv = nextrand(s) % (lim + 1)"),  # the rejection loop's mask
    ("if n & (n + 1) == 0 then return (rv & n) + low end", "if n & (n + 1) == 0 then return (rv % (n + 1)) + low end"),
    ("for _ = 1, 16 do nextrand(s) end", "for _ = 1, 15 do nextrand(s) end"),
    ("s[1], s[2], s[3], s[4] = n1, 0xff, n2, 0", "s[1], s[2], s[3], s[4] = n1, 0xff, 0, n2"),
    ("  s[4] = (s3 << 45) | (s3 >> 19)\n  x", "  s[4] = (s3 << 44) | (s3 >> 20)\n  x"),  # nextrand (seeding)
    ("  x = (x << 7) | (x >> 57)\n", "  x = (x << 7) | (x >> 56)\n"),  # nextrand's output (randomseed())
    ("  local x = s1 * 5\n", "  local x = s1 * 3\n"),  # nextrand's multiplier
    ("if up == 0 then return rv end", "if up == 0 then return rv >> 1 end"),
    ("    n1 = nextrand(s)\n    n2 = nextrand(s)", "    n2 = nextrand(s)\n    n1 = nextrand(s)"),
    ('  if low > up then argerror(2, 1, "interval is empty", "random") end', ""),
    ('    error("wrong number of arguments", 2)', '    error("wrong number of arguments", 1)'),
    ('argerror(3, arg, "number has no integer representation", fname)', "return num // 1 | 0"),
]


@pytest.mark.parametrize(("old", "new"), MUTANTS)
def test_a_broken_port_fails_the_comparison(old: str, new: str) -> None:
    source = RNG_LUA.read_text()
    assert source.count(old) == 1, old
    mutant = Rig(source.replace(old, new))
    # a mutant may loop for ever (in C code, where pytest-timeout cannot stop it)
    mutant.lua.execute("debug.sethook(function() error('mutant ran too long') end, '', 20000000)")
    rng = random.Random(11)
    pool = pool_for(rng)
    cases: list[Case] = [(a, b, list(range(len(pool)))) for a in SEEDS[:4] for b in (None, 1)]
    cases += cases_for(rng, pool, 200, 30)
    bad, _ = mutant.compare(cases, pool, limit=1)
    forms = [mutant.form(src) for src in FORMS]
    seeded = mutant.lua.execute(
        "local R = ... math.randomseed(5) local a, b = math.random(0), math.random(0) math.randomseed(a, b) "
        "R.current = R.new(5) R.randomseed() return math.random(0) == R.random(0)",
        mutant.R,
    )
    assert bad != "" or any(c != port for c, port in forms) or seeded is False
