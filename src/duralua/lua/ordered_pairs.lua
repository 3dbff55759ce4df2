-- The sandbox's deterministic next/pairs (loaded by prelude.lua, compiled under its chunk
-- name: error locations and the budget's user frame skip these frames like the prelude's).
--
-- Order: positive integer keys ascending (so the array part 1..n comes first, in order),
-- then other numbers ascending, strings in byte order, false, true, and finally other key
-- types (tables, functions, ...) in an order that is stable within one Lua state. The order
-- does not depend on Lua's per-state hash seed, so two states iterate identically.
--
-- A traversal caches the sorted key list of its table (weak-keyed; rebuilt whenever a
-- traversal starts with `next(t, nil)`), which keeps a `pairs` loop O(n log n).
--
-- Run once per LuaSandbox with the raw functions the prelude captured before anything
-- replaced them (the C table.sort and string.format: patterns.lua installs budget-aware ones
-- later); returns next, pairs.
local rawget, rnext, rtype, rsetmetatable, mtype, sort, format, error, dgetmetatable = ...

local cache = rsetmetatable({}, { __mode = "k" })
local oids = rsetmetatable({}, { __mode = "k" })
local last_oid = 0
local function oid(v)
  local id = oids[v]
  if id == nil then
    last_oid = last_oid + 1
    id = last_oid
    oids[v] = id
  end
  return id
end
local function oid_less(a, b) return oid(a) < oid(b) end

local function class_of(k)
  local tk = rtype(k)
  if tk == "number" then
    if mtype(k) == "integer" and k > 0 then return 1 end
    return 2
  elseif tk == "string" then return 3
  elseif tk == "boolean" then return 4
  end
  return 5
end

local function key_less(a, b)
  local ca, cb = class_of(a), class_of(b)
  if ca ~= cb then return ca < cb end
  if ca == 4 then return a == false and b == true end
  if ca == 5 then return oid(a) < oid(b) end
  return a < b
end

local function type_error(fname, v, level)
  error(format("bad argument #1 to '%s' (table expected, got %s)", fname, rtype(v)), level)
end

-- Sorted key list of `t`: { n = <length of the dense 1..n prefix>, rest = {...}, pos = {...} }
local function build(t)
  if rtype(t) ~= "table" then type_error("next", t, 4) end
  local nums, strs, objs = {}, {}, {}
  local ni, nn, ns, no = 0, 0, 0, 0
  local maxi = 0
  local hasf, hast = false, false
  local k = rnext(t)
  while k ~= nil do
    local tk = rtype(k)
    if tk == "string" then
      ns = ns + 1
      strs[ns] = k
    elseif tk == "number" then
      if mtype(k) == "integer" and k > 0 then
        ni = ni + 1
        if k > maxi then maxi = k end
      else
        nn = nn + 1
        nums[nn] = k
      end
    elseif tk == "boolean" then
      if k then hast = true else hasf = true end
    else
      no = no + 1
      objs[no] = k
    end
    k = rnext(t, k)
  end
  local dense = 0
  local rest = {}
  if maxi == ni then     -- positive integer keys are exactly 1..ni: no need to list them
    dense = ni
  else
    local i = 0
    for key in rnext, t do
      if mtype(key) == "integer" and key > 0 then
        i = i + 1
        rest[i] = key
      end
    end
    sort(rest)
  end
  local n = dense == 0 and ni or 0
  if nn > 0 then
    sort(nums)
    for i = 1, nn do rest[n + i] = nums[i] end
    n = n + nn
  end
  if ns > 0 then
    sort(strs)
    for i = 1, ns do rest[n + i] = strs[i] end
    n = n + ns
  end
  if hasf then n = n + 1 rest[n] = false end
  if hast then n = n + 1 rest[n] = true end
  if no > 0 then
    if no > 1 then sort(objs, oid_less) end
    for i = 1, no do rest[n + i] = objs[i] end
    n = n + no
  end
  local c = { n = dense, rest = rest, pos = false }
  cache[t] = c
  return c
end

local function advance(t, c, i)
  local dense, rest = c.n, c.rest
  while true do
    i = i + 1
    local key
    if i <= dense then
      key = i
    else
      key = rest[i - dense]
      if key == nil then
        cache[t] = nil
        return nil
      end
    end
    local v = rawget(t, key)
    if v ~= nil then return key, v end
  end
end

-- Position of `k` in `c`'s order (0 before the first key), or nil if `k` is not listed.
local function position(c, k)
  local pos = c.pos
  if not pos then
    pos = {}
    local rest = c.rest
    for i = 1, #rest do pos[rest[i]] = i end
    c.pos = pos
  end
  local p = pos[k]
  if p ~= nil then return p + c.n end
  if mtype(k) == "integer" and k >= 1 and k <= c.n then return k end
  return nil
end

local function next(t, k)
  if k == nil then return advance(t, build(t), 0) end
  local c = cache[t]
  local p = c and position(c, k)
  if p == nil then
    -- `k` is not in the cached order (another traversal ended, or `k` was removed):
    -- rebuild and continue after the last key that sorts before or at `k`.
    c = build(t)
    p = 0
    local total = c.n + #c.rest
    while p < total do
      local key = p < c.n and (p + 1) or c.rest[p + 1 - c.n]
      if key_less(k, key) then break end
      p = p + 1
    end
  end
  return advance(t, c, p)
end

local function pairs(t)
  local mt = dgetmetatable(t)
  if mt ~= nil then
    local h = rawget(mt, "__pairs")
    if h ~= nil then
      local f, s, c = h(t)
      return f, s, c
    end
  end
  if rtype(t) ~= "table" then type_error("pairs", t, 3) end
  -- Same order as `next`, without looking the previous key up at each step. Called with
  -- anything but the key it returned last, the iterator behaves exactly like `next`.
  local c = build(t)
  local dense, rest, i, last, plain = c.n, c.rest, 0, nil, true
  return function(_, k)
    if k ~= last or not plain then
      plain = false
      return next(t, k)
    end
    while true do
      i = i + 1
      local key
      if i <= dense then
        key = i
      else
        key = rest[i - dense]
        if key == nil then return nil end
      end
      local v = rawget(t, key)
      if v ~= nil then
        last = key
        return key, v
      end
    end
  end, t, nil
end

return next, pairs
