"""Can duralua's ``pairs`` follow insertion order (as Wippy's VM does) in stock Lua 5.4?

Measured in one run, inside one duralua sandbox (lupa, Lua 5.4), for tables of ``--sizes``
string keys inserted in a shuffled order:

* **native**: the C ``next`` (``for k, v in next, t``): the order of Lua's hash part, which
  depends on the state's hash seed and the table's history, so it is not deterministic;
* **sorted**: duralua's ``pairs`` (ordered_pairs.lua: integer keys ascending, then other numbers,
  strings in byte order...), what workflows use today;
* **proxy**: a prototype of tracked insertion order: an empty table whose metatable keeps the
  values in a data table (``__index``), appends new keys to a key list (``__newindex``) and
  walks that list in ``__pairs``;
* **inplace**: the cheaper variant: the values stay in the table itself and ``__newindex``
  (called by Lua only for a key whose raw value is nil) appends new keys to the list.

For each: making an empty table, inserting the keys into a new table, updating them, reading
them, one full iteration (CPU time of this process, ``time.process_time``, best of ``--repeat``
interleaved rounds), the memory a table holds, and the ratios to native.

It also shows what no metatable can fix: the fields of a table constructor (``{b = 1, a = 2}``)
are stored by the VM before any metatable can be attached, in hash order, and ``__newindex``
never fires for them (nor for assignments to existing keys); and that native order differs
between two Lua states for the same insertions.

    python bench/pairs_order.py [--sizes 10,100,1000] [--repeat 7] [--ops 400000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

import lupa.lua54 as lupa  # noqa: E402

from _common import fmt_ratio, machine_facts, table  # noqa: E402
from duralua.lua.sandbox import LuaSandbox  # noqa: E402

# Runs as user code in a sandbox environment (its `pairs` is duralua's sorted one); `rawnext`
# is the C `next`, handed in because the sandbox's own `next` is the sorted one too.
BENCH_LUA = r"""
local rawnext = ...
local rawget, rawset, setmetatable, pairs, max = rawget, rawset, setmetatable, pairs, math.max

-- Tracked insertion order: all writes reach __newindex because the proxy itself stays empty.
-- A deleted key leaves a stale slot in `keys` (skipped: its `pos` no longer points there); a
-- key set again after deletion goes to the end. The list is compacted when half of it is stale.
local function ordered()
  local data, keys, pos, n, stale = {}, {}, {}, 0, 0
  local mt = {__index = data}
  function mt.__newindex(_, k, v)
    if v == nil then
      if data[k] ~= nil then data[k] = nil pos[k] = nil stale = stale + 1 end
      return
    end
    if data[k] == nil then
      if stale > n // 2 and stale > 8 then
        local j = 0
        for i = 1, n do
          local key = keys[i]
          if pos[key] == i then j = j + 1 keys[j] = key pos[key] = j end
        end
        for i = j + 1, n do keys[i] = nil end
        n, stale = j, 0
      end
      n = n + 1
      keys[n] = k
      pos[k] = n
    end
    data[k] = v
  end
  function mt.__len() return #data end
  function mt.__pairs(self)
    local i = 0
    return function()
      while i < n do
        i = i + 1
        local k = keys[i]
        if pos[k] == i then return k, data[k] end
      end
      return nil
    end, self, nil
  end
  return setmetatable({}, mt)
end

-- Tracked insertion order without a proxy: the values stay in the table (reads and updates are
-- raw), and __newindex, which Lua calls only when the raw value is nil, records new keys. A
-- deletion is invisible here: its slot is skipped once the value is nil, and a key set again
-- goes to the end. The list is compacted whenever it has doubled since the last compaction.
local function inplace()
  local keys, pos, n, limit = {}, {}, 0, 16
  local mt = {}
  function mt.__newindex(t, k, v)
    if v == nil then return end
    if n >= limit then
      local j = 0
      for i = 1, n do
        local key = keys[i]
        if pos[key] == i and rawget(t, key) ~= nil then j = j + 1 keys[j] = key pos[key] = j
        elseif pos[key] == i then pos[key] = nil end
      end
      for i = j + 1, n do keys[i] = nil end
      n, limit = j, max(16, 2 * j)
    end
    n = n + 1
    keys[n] = k
    pos[k] = n
    rawset(t, k, v)
  end
  function mt.__pairs(t)
    local i = 0
    return function()
      while i < n do
        i = i + 1
        local k = keys[i]
        if pos[k] == i then
          local v = rawget(t, k)
          if v ~= nil then return k, v end
        end
      end
      return nil
    end, t, nil
  end
  return setmetatable({}, mt)
end

local make = {native = function() return {} end, sorted = function() return {} end, proxy = ordered,
              inplace = inplace}

local function fill(kind, keys, n)
  local t = make[kind]()
  for i = 1, n do t[keys[i]] = i end
  return t
end

local B = {}
function B.create(kind, _, n, reps)
  local new = make[kind]
  for _ = 1, reps * n do new() end
end
-- `count` tables of `n` keys, kept alive (memory per table).
function B.hold(kind, keys, n, count)
  local held = {}
  for i = 1, count do held[i] = fill(kind, keys, n) end
  return held
end
function B.insert(kind, keys, n, reps)
  local new = make[kind]
  for _ = 1, reps do
    local t = new()
    for i = 1, n do t[keys[i]] = i end
  end
end
function B.update(kind, keys, n, reps)
  local t = fill(kind, keys, n)
  for r = 1, reps do
    for i = 1, n do t[keys[i]] = r end
  end
end
function B.read(kind, keys, n, reps)
  local t, s = fill(kind, keys, n), 0
  for _ = 1, reps do
    for i = 1, n do s = s + t[keys[i]] end
  end
  return s
end
function B.iterate(kind, keys, n, reps)
  local t, s = fill(kind, keys, n), 0
  if kind == "native" then
    for _ = 1, reps do for _, v in rawnext, t do s = s + v end end
  else
    for _ = 1, reps do for _, v in pairs(t) do s = s + v end end
  end
  return s
end

-- The keys in the order each variant visits them (checks that the proxy keeps insertion order).
function B.order(kind, keys, n)
  local t, out = fill(kind, keys, n), {}
  local iter, state = rawnext, t
  if kind ~= "native" then iter, state = pairs(t) end
  for k in iter, state do out[#out + 1] = k end
  return out
end

-- Deletes every other key, then sets every third key again (re-inserted if it was deleted,
-- updated if not), and lists what iteration visits: with insertion order that is the order of
-- a Python dict after the same operations.
function B.churn(kind, keys, n)
  local t, out = fill(kind, keys, n), {}
  for i = 1, n, 2 do t[keys[i]] = nil end
  for i = 1, n, 3 do t[keys[i]] = -i end
  for k in pairs(t) do out[#out + 1] = k end
  return out
end

return B
"""

# Stock Lua, no sandbox: what the VM does with a constructor and with __newindex.
CONSTRUCTOR_LUA = r"""
local order = {}
local t = {zeta = 1, alpha = 2, mid = 3, beta = 4, kappa = 5, omega = 6, delta = 7, gamma = 8}
for k in next, t do order[#order + 1] = k end
local fired = 0
setmetatable(t, {__newindex = function(tt, k, v) fired = fired + 1 rawset(tt, k, v) end})
local after_constructor = fired
t.zeta = 10           -- an existing key: raw set, no metamethod
local after_update = fired
t.fresh = 1           -- a new key: __newindex fires
return table.concat(order, " "), after_constructor, after_update, fired
"""

VARIANTS = ("native", "sorted", "proxy", "inplace")
OPERATIONS = ("create", "insert", "update", "read", "iterate")
UNITS = {"create": "ns/table", "iterate": "µs/table"}
SOURCE_ORDER = "zeta alpha mid beta kappa omega delta gamma"


def _keys(n: int) -> list[str]:
    keys = [f"key{i:05d}" for i in range(n)]
    random.Random(n).shuffle(keys)  # insertion order differs from sorted order
    return keys


def _churned(keys: list[str]) -> list[str]:
    """What B.churn visits with insertion order (a dict: deletion forgets a key's place)."""
    d = {k: i for i, k in enumerate(keys, 1)}
    for i in range(0, len(keys), 2):
        del d[keys[i]]
    for i in range(0, len(keys), 3):
        d[keys[i]] = -(i + 1)
    return list(d)


def measure(sizes: list[int], repeat: int, ops: int) -> dict[str, Any]:
    # a memory limit (as every duralua state has) makes lupa count the bytes in use
    sb = LuaSandbox(memory_limit=4 << 30, instruction_budget=None)
    rawnext = sb.lua.execute('return debug.getregistry()["duralua.next"]')
    bench = sb.execute(BENCH_LUA, "=pairs_order", rawnext)
    results: dict[str, Any] = {}
    orders_ok: dict[str, bool] = {}
    for n in sizes:
        keys = _keys(n)
        lkeys = sb.table_from(keys)
        order = {v: list(sb.table_from(bench.order(v, lkeys, n)).values()) for v in VARIANTS}
        expected = _churned(keys)
        churned = {v: list(sb.table_from(bench.churn(v, lkeys, n)).values()) for v in ("proxy", "inplace")}
        # the prototypes must visit keys in insertion order (also after deletions), sorted pairs in byte order
        orders_ok[str(n)] = (order["proxy"] == keys == order["inplace"] and order["sorted"] == sorted(keys)
                             and churned["proxy"] == expected == churned["inplace"])  # fmt: skip
        reps = max(1, ops // n)
        best: dict[tuple[str, str], float] = {}
        for _ in range(repeat):
            for op in OPERATIONS:
                for v in VARIANTS:
                    fn = bench[op]
                    start = time.process_time()
                    sb.call(fn, v, lkeys, n, reps)
                    spent = time.process_time() - start
                    key = (op, v)
                    best[key] = min(best.get(key, spent), spent)
        per_size: dict[str, Any] = {"memory": _memory(sb, bench, lkeys, n)}
        for op in OPERATIONS:
            row: dict[str, Any] = {}
            for v in VARIANTS:
                # insert/update/read: ns per key; iterate: µs per full iteration (and ns per key)
                ns_key = best[(op, v)] / (reps * n) * 1e9
                row[v] = {"ns_per_key": ns_key, "us_per_table": ns_key * n / 1000.0}
            for v in VARIANTS[1:]:
                row[v]["ratio"] = row[v]["ns_per_key"] / row["native"]["ns_per_key"]
            if op == "create":  # n empty tables per key counted: per table, not per key
                for v in VARIANTS:
                    row[v]["ns_per_table"] = row[v]["ns_per_key"]
            per_size[op] = row
        results[str(n)] = per_size
    return {
        "sizes": sizes,
        "repeat": repeat,
        "ops": ops,
        "results": results,
        "orders_ok": orders_ok,
        "constructor": _constructor_facts(),
        "native_orders": _native_orders(),
        "loadavg": os.getloadavg(),
        "machine": machine_facts(["duralua", "lupa"]),
    }


def _memory(sb: LuaSandbox, bench: Any, lkeys: Any, n: int) -> dict[str, float]:
    """Bytes per table of ``n`` keys held alive, for each variant."""
    count = max(10, 20_000 // n)
    out: dict[str, float] = {}
    for v in VARIANTS:
        sb.lua.gccollect()
        before = sb.memory_used
        held = sb.call(bench.hold, v, lkeys, n, count)
        sb.lua.gccollect()
        out[v] = (sb.memory_used - before) / count
        del held
    sb.lua.gccollect()
    return out


def _constructor_facts() -> dict[str, Any]:
    order, after_constructor, after_update, fired = lupa.LuaRuntime().execute(CONSTRUCTOR_LUA)
    return {"source_order": SOURCE_ORDER, "next_order": order, "newindex_after_constructor": after_constructor,
            "newindex_after_update": after_update, "newindex_after_new_key": fired}  # fmt: skip


def _native_orders(states: int = 8, n: int = 32) -> dict[str, Any]:
    """How many different ``next`` orders ``states`` fresh Lua states give for the same
    insertions (Lua 5.4 seeds its string hashes per state), and whether one state gives the
    insertion order back."""
    keys = _keys(n)
    seen: set[tuple[str, ...]] = set()
    for _ in range(states):
        lua = lupa.LuaRuntime()
        fn = lua.eval("function(keys, n) local t = {} for i = 1, n do t[keys[i]] = i end "
                      "local out = {} for k in next, t do out[#out + 1] = k end return out end")  # fmt: skip
        seen.add(tuple(fn(lua.table_from(keys), n).values()))
    return {"states": states, "keys": n, "distinct_orders": len(seen),
            "any_is_insertion_order": tuple(keys) in seen}  # fmt: skip


def report(data: dict[str, Any]) -> str:
    lines = [f"pairs orders: CPU time per key, best of {data['repeat']} rounds (~{data['ops']:,} keys per measurement)"]
    for n in data["sizes"]:
        res = data["results"][str(n)]
        rows = []
        for op in OPERATIONS:
            r = res[op]
            unit = UNITS.get(op, "ns/key")
            val = "us_per_table" if op == "iterate" else "ns_per_key"
            rows.append((f"{op} ({unit})", *(r[v][val] for v in VARIANTS),
                         *(fmt_ratio(r[v]["ratio"]) for v in VARIANTS[1:])))  # fmt: skip
        mem = res["memory"]
        rows.append(("memory (bytes/table)", *(mem[v] for v in VARIANTS),
                     *(fmt_ratio(mem[v] / mem["native"]) for v in VARIANTS[1:])))  # fmt: skip
        heads = ["operation", *VARIANTS, *(f"{v}/native" for v in VARIANTS[1:])]
        lines += ["", f"{n} keys (orders as expected: {data['orders_ok'][str(n)]})", table(heads, rows)]
    c, o = data["constructor"], data["native_orders"]
    m = data["machine"]
    lines += [
        "",
        f"constructor {{{c['source_order'].replace(' ', ', ')}}} (source order): next visits {c['next_order']}",
        f"__newindex calls: {c['newindex_after_constructor']} for the constructor's fields (metatable set after), "
        f"{c['newindex_after_update'] - c['newindex_after_constructor']} for an update of an existing key, "
        f"{c['newindex_after_new_key'] - c['newindex_after_update']} for a new key",
        f"native next order of the same {o['keys']} insertions in {o['states']} fresh Lua states: "
        f"{o['distinct_orders']} distinct orders (any equal to insertion order: {o['any_is_insertion_order']})",
        "",
        f"machine: {m['cpus_usable']} usable CPUs ({m['cpu_model']}), {m['platform']}, Python {m['python']}, "
        f"lupa {m['packages'].get('lupa')}, load average {', '.join(f'{x:.1f}' for x in data['loadavg'])}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10,100,1000", help="table sizes, comma-separated (default 10,100,1000)")
    parser.add_argument("--repeat", type=int, default=7, help="rounds; the best is reported (default 7)")
    parser.add_argument("--ops", type=int, default=400_000, help="keys touched per measurement (default 400000)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON on stdout")
    args = parser.parse_args(argv)
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error("--sizes must be comma-separated integers")
    if not sizes or min(sizes) < 1 or args.repeat < 1 or args.ops < 1:
        parser.error("--sizes, --repeat and --ops must be positive")
    data = measure(sizes, args.repeat, args.ops)
    text = report(data)
    if args.json:
        print(text, file=sys.stderr)
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
