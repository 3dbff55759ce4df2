-- Budget-aware replacements for the C library functions whose one call can run long.
--
-- The instruction budget is a count hook: it cannot stop a C function. A backtracking
-- pattern (`string.rep("a", 800):find(".-.-.-b")`) or `string.rep("", 1e15)` used to run for
-- minutes in one call, freezing every run of the engine. Installed by the prelude into the
-- real `string` and `table` libraries (so the string metatable, every environment's copy and
-- privileged code all see them):
--
-- * find/match/gmatch/gsub estimate the worst case of the C matcher from the subject length
--   and the pattern (see `analyze`). Small enough: the C function runs and the estimate (a
--   fraction of it) is charged to the budget. Otherwise, or when the pattern could raise an
--   error (C would report it at the wrong place from here), lmatch.lua's port of the matcher
--   runs in Lua, where every step counts.
-- * rep, sort, move and format('%q') are charged for their size; rep with an empty result
--   never reaches C (C loops n times doing nothing).
--
-- Everything charged is a function of the arguments only, so the budget stays deterministic.
local charge, step, PORT = ...
-- Runs while the prelude loads, in the real globals, before anything in them is replaced.
local N = {
  sub = string.sub, byte = string.byte, char = string.char, find = string.find,
  match = string.match, gmatch = string.gmatch, gsub = string.gsub, rep = string.rep,
  format = string.format, concat = table.concat, sort = table.sort, move = table.move,
  unpack = table.unpack, type = type, tostring = tostring, tonumber = tonumber, error = error,
  select = select, rawget = rawget, rawlen = rawlen, getmetatable = debug.getmetatable,
  getinfo = debug.getinfo, pcall = pcall, mathtype = math.type, tointeger = math.tointeger,
  maxinteger = math.maxinteger, ceil = math.ceil, log = math.log,
}
local sub, byte, char, nfind, nmatch, ngmatch, ngsub = N.sub, N.byte, N.char, N.find, N.match, N.gmatch,
  N.gsub
local nrep, nformat, nsort, nmove = N.rep, N.format, N.sort, N.move
local rtype, tostring, tonumber, error, select = N.type, N.tostring, N.tonumber, N.error, N.select
local rawget, rawlen, dgetmetatable, rpcall = N.rawget, N.rawlen, N.getmetatable, N.pcall
local mtype, tointeger, maxinteger, ceil, log = N.mathtype, N.tointeger, N.maxinteger, N.ceil, N.log

local port = load(PORT, "=prelude", "b")(N)
local API, locate = port.API, port.locate

-- Units are steps of the C matcher (~3 ns each; a VM instruction is ~4 ns).
local LIMIT = 1.5e8   -- largest worst case run in C in one call (~0.4 s)
local SMALL = 4096    -- worst cases up to this always run in C
local SWITCH = 128    -- above SMALL, C only while worst <= SWITCH * (n + 1) * items: beyond,
                      -- a superlinear worst case costs more to charge than the port's real work
local RATIO = 4       -- a C call is charged worst / RATIO instructions
local FREE = 64       -- smaller charges are skipped
local INT_MAX = 2147483647
-- For tests (tests/unit/test_patterns.py load this file outside the sandbox): `force` makes
-- every match run in the port, `ported` counts the matches that did.
local control = { force = false, ported = 0 }
local SPECIALS = "[%^%$%*%+%?%.%(%[%%%-]"

-------------------------------------------------------------------------------------------
-- argument checks with the messages of lauxlib (luaL_checklstring & co.)
-------------------------------------------------------------------------------------------
local function where()
  local _, _, pre = locate()
  return pre
end

local function argerror(arg, extramsg, fname)
  local name, namewhat, pre = locate()
  if namewhat == "method" then
    arg = arg - 1
    if arg == 0 then error(pre .. nformat("calling '%s' on bad self (%s)", name, extramsg), 0) end
  end
  error(pre .. nformat("bad argument #%d to '%s' (%s)", arg, name or fname, extramsg), 0)
end

local function typename(v)
  local mt = dgetmetatable(v)
  local name = mt and rawget(mt, "__name")
  if rtype(name) == "string" then return name end
  return rtype(v)
end

local function typeerror(arg, expected, v, fname)
  argerror(arg, expected .. " expected, got " .. typename(v), fname)
end

local function str_arg(v, arg, fname)
  if rtype(v) == "number" then return tostring(v) end
  typeerror(arg, "string", v, fname)
end

local function int_arg(v, arg, fname)
  local num = v
  if rtype(v) == "string" then num = tonumber(v) end
  if rtype(num) == "number" then
    local i = tointeger(num)
    if i then return i end
    argerror(arg, "number has no integer representation", fname)
  end
  typeerror(arg, "number", v, fname)
end

-- posrelatI of lstrlib, for an init argument below 1
local function posrelat(pos, len)
  if pos == 0 or pos < -len then return 1 end
  return len + pos + 1
end

-------------------------------------------------------------------------------------------
-- the cost model
--
-- Lua patterns have no alternation and quantifiers apply to one class, so the matcher is a
-- chain: `match` at item i either fails, or succeeds having consumed c characters. Working
-- backwards from the end of the pattern, for n remaining characters and x = n + 1:
--   F    most steps a failing call can take,
--   S    most steps a succeeding call can take: SA * (c + 1) + SB,
--   A    the call always succeeds (the rest can match anything, e.g. `.*` at the end),
--   E    the call succeeds at the end of the subject.
-- Each bound is kept as c * x^d (x >= 1): a greedy `*` whose rest can fail multiplies the
-- rest's F by x, a `-` adds it to SA, `?` doubles it. A find tries x starts, so its worst
-- case is x * F + x * SA + SB; gsub/gmatch also pay for every success (3x * SA + 2x * SB).
--
-- Patterns that C could reject (malformed classes, bad captures, more than 32 captures,
-- nesting beyond C's 200 levels) get no model: the port raises the same error, lazily and
-- at the same place. The models are cached per step (the cache never changes the count).
-------------------------------------------------------------------------------------------
local CAP, DOLLAR, SINGLE, FRONT, OPT, STAR, PLUS, MINUS, BAL, BACK = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10

local function class_end(pb, plen, p)
  local c = pb[p]
  p = p + 1
  if c == 37 then
    if p > plen then return nil end
    return p + 1
  elseif c == 91 then
    if pb[p] == 94 then p = p + 1 end
    repeat
      if p > plen then return nil end
      local cc = pb[p]
      p = p + 1
      if cc == 37 and p <= plen then p = p + 1 end
    until pb[p] == 93
    return p + 1
  end
  return p
end

local function max(a, b) return a > b and a or b end

-- The class at p[i..ep-1] as a pattern of its own (a literal is escaped).
local function class_text(p, i, ep, c)
  if c == 46 or c == 37 or c == 91 then return sub(p, i, ep - 1) end
  if (c >= 48 and c <= 57) or (c >= 65 and c <= 90) or (c >= 97 and c <= 122) then return char(c) end
  return "%" .. char(c)
end

-- Every byte (0..255), for asking C which bytes a class holds.
local ALL = "\000\001\002\003\004\005\006\007\008\009\010\011\012\013\014\015\016\017\018\019\020\021\022\023\024\025\026\027\028\029\030\031 !\034#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\092]^_`abcdefghijklmnopqrstuvwxyz{|}~\127\128\129\130\131\132\133\134\135\136\137\138\139\140\141\142\143\144\145\146\147\148\149\150\151\152\153\154\155\156\157\158\159\160\161\162\163\164\165\166\167\168\169\170\171\172\173\174\175\176\177\178\179\180\181\182\183\184\185\186\187\188\189\190\191\192\193\194\195\196\197\198\199\200\201\202\203\204\205\206\207\208\209\210\211\212\213\214\215\216\217\218\219\220\221\222\223\224\225\226\227\228\229\230\231\232\233\234\235\236\237\238\239\240\241\242\243\244\245\246\247\248\249\250\251\252\253\254\255"

-- Whether two classes have no byte in common. `outside` memoises, per class, the bytes
-- outside it (one analysis only): disjoint iff every byte is outside one of the two.
local function disjoint(a, b, outside)
  local na, nb = outside[a], outside[b]
  if na == nil then
    na = ngsub(ALL, a, "")
    outside[a] = na
  end
  if nb == nil then
    nb = ngsub(ALL, b, "")
    outside[b] = nb
  end
  return #na + #nb - #ngsub(na, b, "") == 256
end

-- Steps within which the rest of the pattern, from item j, fails at a position whose byte
-- is in class `c` (nil if it may not): items that can match empty and are disjoint from
-- `c` are passed over, and the first one that must consume is disjoint from `c` too (or
-- is `$`: there is a byte, so this is not the end).
local function rejects(kinds, texts, nk, j, c, outside)
  local steps = 0
  while j <= nk and steps < 4 do
    local kind = kinds[j]
    steps = steps + 1
    if kind == DOLLAR then return steps end
    if kind == SINGLE or kind == PLUS then
      if disjoint(c, texts[j], outside) then return steps end
      return nil
    elseif kind == STAR or kind == MINUS or kind == OPT then
      if not disjoint(c, texts[j], outside) then return nil end
    elseif kind ~= CAP then
      return nil
    end
    j = j + 1
  end
  return nil
end

-- Items of the pattern (kinds, and whether the class is `.`), or nil if C could raise.
local function items(p, pb, plen, i)
  local kinds, dots, texts, nk = {}, {}, {}, 0
  local nopen, stack, sp, closed, rec = 0, {}, 0, {}, 0
  while i <= plen do
    local c, kind = pb[i], nil
    if c == 40 then
      nopen = nopen + 1
      if nopen > 32 then return nil end
      if pb[i + 1] == 41 then
        closed[nopen] = true
        i = i + 2
      else
        sp = sp + 1
        stack[sp] = nopen
        i = i + 1
      end
      kind, rec = CAP, rec + 1
    elseif c == 41 then
      if sp == 0 then return nil end
      closed[stack[sp]] = true
      sp = sp - 1
      kind, rec, i = CAP, rec + 1, i + 1
    elseif c == 36 and i == plen then
      kind, i = DOLLAR, i + 1
    else
      local nx = pb[i + 1]
      if c == 37 and nx == 98 then
        if i + 2 >= plen then return nil end
        kind, i = BAL, i + 4
      elseif c == 37 and nx == 102 then
        if pb[i + 2] ~= 91 then return nil end
        local ep = class_end(pb, plen, i + 2)
        if ep == nil then return nil end
        kind, i = FRONT, ep
      elseif c == 37 and nx ~= nil and nx >= 48 and nx <= 57 then
        local l = nx - 48
        if l < 1 or l > nopen or not closed[l] then return nil end
        kind, i = BACK, i + 2
      else
        local ep = class_end(pb, plen, i)
        if ep == nil then return nil end
        local q = pb[ep]
        if q == 42 then kind = STAR
        elseif q == 43 then kind = PLUS
        elseif q == 45 then kind = MINUS
        elseif q == 63 then kind = OPT
        else kind = SINGLE
        end
        dots[nk + 1] = c == 46
        texts[nk + 1] = class_text(p, i, ep, c)
        if kind == SINGLE then
          i = ep
        else
          i, rec = ep + 1, rec + 1
        end
      end
    end
    nk = nk + 1
    kinds[nk] = kind
  end
  if sp > 0 or rec >= 200 then return nil end
  return kinds, dots, texts, nk, nopen
end

local function analyze(p, gm)
  local plen = #p
  local rec = { ok = false, plain = not nfind(p, SPECIALS) }
  if plen > 65536 then return rec end  -- the port's error handling covers huge patterns too
  local pb = { byte(p, 1, plen) }
  local anchor = not gm and pb[1] == 94
  local kinds, dots, texts, nk, ncap = items(p, pb, plen, anchor and 2 or 1)
  if kinds == nil then return rec end
  local fc, fd, ac, ad, bc, bd = 0, 0, 0, 0, 1, 0
  local A, E = true, true
  local outside = {}
  for j = nk, 1, -1 do
    local kind = kinds[j]
    -- the rest quickly rejects this class's bytes: only the try where the repetition
    -- stopped costs F, the others q steps each (`%w+%s*=` is linear, not cubic)
    local q = nil
    if not A and kind >= OPT and kind <= MINUS then q = rejects(kinds, texts, nk, j + 1, texts[j], outside) end
    if kind == CAP then
      if not A then fc = fc + 1 end
      bc = bc + 1
    elseif kind == DOLLAR then
      fc, fd, A, E, bc = 1, 0, false, true, bc + 1
    elseif kind == SINGLE or kind == FRONT then
      fc, bc, A, E = fc + 2, bc + 2, false, false
    elseif kind == OPT then
      if q then
        fc = fc + q + 1
      elseif not A then
        bc, bd = bc + fc + 1, max(bd, fd)
        fc = 2 * fc + 1
      end
      bc = bc + 1
    elseif kind == STAR or kind == PLUS then
      if A or (dots[j] and E) then          -- the rest succeeds right after the expansion
        ac, bc = ac + 1, bc + 1
        if kind == PLUS then
          fc, fd, A, E = 1, 0, false, false
        else
          fc, fd, A = 0, 0, true
        end
      elseif q then
        fc, fd = fc + q + 2, max(fd, 1)
        bc, bd = bc + q + 2, max(bd, 1)
        A = false
        if kind == PLUS then E = false end
      else                                  -- x tries of the rest, each up to F
        fc, fd = fc + 2, fd + 1
        bc, bd = bc + fc, max(bd, fd)
        A = false
        if kind == PLUS then E = false end
      end
    elseif kind == MINUS then
      if q then
        ac = ac + q + 1
        fc, fd = fc + q + 2, max(fd, 1)
      elseif not A then
        ac, ad = ac + fc + 1, max(ad, fd)
        if dots[j] and E then
          fc, fd, A = 0, 0, true
        else
          fc, fd = fc + 2, fd + 1
        end
      end
      bc = bc + 1
    else                                    -- %b, back-reference: a scan of up to n chars
      fc, fd = fc + 2, max(fd, 1)
      ac, bc, A, E = ac + 1, bc + 1, false, false
    end
  end
  rec.ok, rec.anchor, rec.k, rec.ncap = true, anchor, nk + 1, ncap
  rec.fc, rec.fd, rec.ac, rec.ad, rec.bc, rec.bd = fc, fd, ac, ad, bc, bd
  -- Subjects up to x - 1 = xs - 1 characters cost less than a charge whatever the pattern
  -- does: C runs them with no more ado. Bounds each term by (sum of c) * x^(largest d).
  local T = FREE * RATIO - 1
  if anchor then
    rec.xs = (T / (fc + ac + bc)) ^ (1 / max(max(fd, ad + 1), max(bd, 1))) // 1
    rec.xm = rec.xs
  else
    rec.xs = (T / (fc + ac + bc)) ^ (1 / max(max(fd, ad) + 1, max(bd, 1))) // 1
    rec.xm = (T / (fc + 3 * ac + 2 * bc)) ^ (1 / (max(max(fd, ad), bd) + 1)) // 1
  end
  return rec
end

local cache, gcache, cache_step, cached = {}, {}, -1, 0

local function model(p, gm)
  local st = step[1]
  if st ~= cache_step then cache, gcache, cache_step, cached = {}, {}, st, 0 end
  local c = gm and gcache or cache
  local r = c[p]
  if r == nil then
    r = analyze(p, gm)
    cached = cached + 1
    if cached > 256 then
      cache, gcache, cached = {}, {}, 0
      c = gm and gcache or cache
    end
    c[p] = r
  end
  return r
end

-- The worst case of a match over x - 1 characters, if C may run it; else false.
local function in_c(r, x, multi)
  local f, sa, sb = r.fc * x ^ r.fd, r.ac * x ^ r.ad, r.bc * x ^ r.bd
  local w
  if r.anchor then
    w = f + x * sa + sb
  elseif multi then
    w = x * (f + 3 * sa + 2 * sb)
  else
    w = x * (f + sa) + sb
  end
  if control.force then return false end
  if w <= SMALL or (w <= LIMIT and w <= SWITCH * x * r.k) then return w end
  return false
end

local function pay(units)
  if units >= FREE * RATIO then
    local c = units // RATIO
    charge(c < 1e15 and tointeger(c) or 1000000000000000)
  end
end

-------------------------------------------------------------------------------------------
-- string.find / match / gmatch / gsub
-------------------------------------------------------------------------------------------
-- Cost of a find that ended at start q (end e), or failed (q == nil) after every start.
local function found_cost(r, x, init, w, q, e)
  if q == nil then return w end
  return r.fc * x ^ r.fd * (q - init) + r.ac * x ^ r.ad * (e - q + 2) + r.bc * x ^ r.bd
end

local function find_paid(r, x, init, w, q, e, ...)
  pay(found_cost(r, x, init, w, q, e))
  if q == nil then return nil end
  return q, e, ...
end

local function match_paid(r, x, init, w, s, q, e, ...)
  pay(found_cost(r, x, init, w, q, e))
  if q == nil then return nil end
  if select("#", ...) == 0 then return sub(s, q, e) end
  return ...
end

-- lmemfind compares up to m bytes at each candidate start: about 45 bytes per matcher step.
local PLAIN_WINDOW = 65536

local function plain_find(s, p, init, ls)
  local m = #p
  if m == 0 then return init, init - 1 end
  local last = ls - m + 1
  if init > last then return nil end
  local worst = (last - init + 1) * (m + 1)
  if worst < FREE * RATIO * 45 then return nfind(s, p, init, true) end
  if worst <= LIMIT * 45 then
    local q, e = nfind(s, p, init, true)
    pay(((q or last) - init + 1) * (m + 1) // 45)
    if q == nil then return nil end
    return q, e
  end
  -- windows of candidate starts, each searched by C with a bounded worst case
  local width = max(1, PLAIN_WINDOW * 45 // (m + 1))
  local pos = init
  while pos <= last do
    local wend = pos + width - 1
    if wend > last then wend = last end
    pay(((wend - pos + 1) * (m + 1) + m) // 45)
    local q = nfind(sub(s, pos, wend + m - 1), p, 1, true)
    if q then return pos + q - 1, pos + q + m - 2 end
    pos = wend + 1
  end
  return nil
end

local function find(s, p, init, plain)
  if rtype(s) ~= "string" then s = str_arg(s, 1, "string.find") end
  if rtype(p) ~= "string" then p = str_arg(p, 2, "string.find") end
  local ls = #s
  if init == nil then
    init = 1
  elseif mtype(init) ~= "integer" then
    init = int_arg(init, 3, "string.find")
  end
  if init < 1 then init = posrelat(init, ls) end
  if init > ls + 1 then return nil end
  local r = model(p)
  if plain or r.plain then return plain_find(s, p, init, ls) end
  if r.ok then
    local x = ls - init + 2
    if x <= r.xs and not control.force then return nfind(s, p, init) end
    local w = in_c(r, x, false)
    if w then
      if w < FREE * RATIO then return nfind(s, p, init) end
      return find_paid(r, x, init, w, nfind(s, p, init))
    end
  end
  control.ported = control.ported + 1
  return port.find(s, p, init, true)
end

local function match(s, p, init)
  if rtype(s) ~= "string" then s = str_arg(s, 1, "string.match") end
  if rtype(p) ~= "string" then p = str_arg(p, 2, "string.match") end
  local ls = #s
  if init == nil then
    init = 1
  elseif mtype(init) ~= "integer" then
    init = int_arg(init, 3, "string.match")
  end
  if init < 1 then init = posrelat(init, ls) end
  if init > ls + 1 then return nil end
  local r = model(p)
  if r.ok then
    local x = ls - init + 2
    if x <= r.xs and not control.force then return nmatch(s, p, init) end
    local w = in_c(r, x, false)
    if w then
      if w < FREE * RATIO then return nmatch(s, p, init) end
      -- through find: its positions tell what the match really cost
      return match_paid(r, x, init, w, s, nfind(s, p, init))
    end
  end
  control.ported = control.ported + 1
  return port.find(s, p, init, false)
end

local function gmatch(s, p, init)
  if rtype(s) ~= "string" then s = str_arg(s, 1, "string.gmatch") end
  if rtype(p) ~= "string" then p = str_arg(p, 2, "string.gmatch") end
  local ls = #s
  if init == nil then
    init = 1
  elseif mtype(init) ~= "integer" then
    init = int_arg(init, 3, "string.gmatch")
  end
  if init < 1 then init = posrelat(init, ls) end
  if init > ls + 1 then init = ls + 2 end
  local r = model(p, true)
  if r.ok then
    local x = ls - init + 2
    if x <= r.xm and not control.force then return ngmatch(s, p, init) end
    local w = in_c(r, x, true)
    if w then
      pay(w)
      return ngmatch(s, p, init)
    end
  end
  control.ported = control.ported + 1
  return port.gmatch(s, p, init)
end

-- Whether C accepts the replacement string for a pattern with `ncap` captures.
local function repl_ok(repl, ncap)
  if rtype(repl) == "number" then return true end
  local i = 1
  while true do
    local q = nfind(repl, "%", i, true)
    if q == nil then return true end
    local d = byte(repl, q + 1)
    if d ~= 37 then
      if d == nil or d < 48 or d > 57 then return false end
      if d > 49 and d - 48 > ncap then return false end
    end
    i = q + 2
  end
end

-- C checks the value a function or table gives; from here its message would point at this
-- file, so the value is checked first.
local function checked(v)
  if v and rtype(v) ~= "string" and rtype(v) ~= "number" then
    error(where() .. nformat("invalid replacement value (a %s)", rtype(v)), 0)
  end
  return v
end

local function gsub(s, p, repl, max_s)
  if rtype(s) ~= "string" then s = str_arg(s, 1, "string.gsub") end
  if rtype(p) ~= "string" then p = str_arg(p, 2, "string.gsub") end
  local tr = rtype(repl)
  local ls = #s
  if max_s == nil then
    max_s = ls + 1
  elseif mtype(max_s) ~= "integer" then
    max_s = int_arg(max_s, 4, "string.gsub")
  end
  if tr ~= "string" and tr ~= "number" and tr ~= "function" and tr ~= "table" then
    typeerror(3, "string/function/table", repl, "string.gsub")
  end
  local r = model(p)
  local ok = r.ok
  if ok and (tr == "string" or tr == "number") then
    if r.repl ~= repl then r.repl, r.repl_ok = repl, repl_ok(repl, r.ncap) end
    ok = r.repl_ok
  end
  if ok then
    local x = ls + 1
    local w = x <= r.xm and not control.force and 0 or in_c(r, x, true)
    if w then
      local f = repl
      if tr == "function" then
        f = function(...) return checked((repl(...))) end
      elseif tr == "table" then
        f = function(k) return checked(repl[k]) end
      end
      local res, n = ngsub(s, p, f, max_s)
      pay(w + #res // 8)
      return res, n
    end
  end
  control.ported = control.ported + 1
  return port.gsub(s, p, repl, tr, max_s)
end

-------------------------------------------------------------------------------------------
-- string.rep / string.format / table.sort / table.move
-------------------------------------------------------------------------------------------
local function rep(s, n, sep)
  if rtype(s) ~= "string" then s = str_arg(s, 1, "string.rep") end
  if mtype(n) ~= "integer" then n = int_arg(n, 2, "string.rep") end
  if sep ~= nil and rtype(sep) ~= "string" then sep = str_arg(sep, 3, "string.rep") end
  if n <= 0 then return "" end
  local l = #s + (sep and #sep or 0)
  if l == 0 then return "" end
  if l > INT_MAX // n then error(where() .. "resulting string too large", 0) end
  local res = nrep(s, n, sep)
  -- C copies piece by piece: ~4 ns a piece, ~0.1 ns a byte; the memory limit bounds one call
  local cost = n // 2 + #res // 32
  if cost >= FREE then charge(cost) end
  return res
end

-- lauxlib errors raised by a C function under pcall carry no position and the name '?':
-- give them the caller's, as C would.
local function reraise(e, fname)
  if rtype(e) == "string" then
    local arg, msg = nmatch(e, "^bad argument #(%d+) to '[^']*' (%b())$")
    if arg then argerror(tointeger(tonumber(arg)), sub(msg, 2, -2), fname) end
    if nfind(e, "^invalid conversion") or e == "invalid order function for sorting"
        or e == "'__tostring' must return a string" or e == "object length is not an integer" then
      error(where() .. e, 0)
    end
  end
  error(e, 0)
end

-- '%q' escapes one byte at a time (~90 ns for a control character): a 14 MB argument took
-- over a second. Other conversions are bounded by the memory limit.
local function format(fmt, ...)
  if rtype(fmt) == "string" and nfind(fmt, "q", 1, true) then
    local size = 0
    for i = 1, select("#", ...) do
      local v = select(i, ...)
      if rtype(v) == "string" then size = size + #v end
    end
    if size >= FREE then charge(size * 4) end
  end
  local ok, res = rpcall(nformat, fmt, ...)
  if not ok then reraise(res, "string.format") end
  return res
end

-- Sorting takes ~25 ns (numbers) to ~70 ns (strings) per n*log2(n); a comparator's own
-- instructions are counted by the hook.
local function sort(t, cmp)
  if rtype(t) ~= "table" then typeerror(1, "table", t, "table.sort") end
  local mt = dgetmetatable(t)
  local n
  if mt ~= nil and rawget(mt, "__len") ~= nil then n = #t else n = rawlen(t) end
  if mtype(n) == "integer" and n > 1 then
    if n >= INT_MAX then argerror(1, "array too big", "table.sort") end
    if cmp ~= nil and rtype(cmp) ~= "function" then typeerror(2, "function", cmp, "table.sort") end
    local weight = 2
    if cmp ~= nil then
      weight = 1
    elseif rtype(rawget(t, 1)) == "string" then
      weight = 6
    end
    charge(n * ceil(log(n, 2)) * weight)
  end
  local ok, e = rpcall(nsort, t, cmp)
  if not ok then reraise(e, "table.sort") end
end

-- C moves e - f + 1 elements one by one (even nils into an empty table): `table.move({}, 1,
-- 1e15, 2)` never ended.
local function move(a1, f, e, t, a2)
  if mtype(f) ~= "integer" then f = int_arg(f, 2, "table.move") end
  if mtype(e) ~= "integer" then e = int_arg(e, 3, "table.move") end
  if mtype(t) ~= "integer" then t = int_arg(t, 4, "table.move") end
  if rtype(a1) ~= "table" then typeerror(1, "table", a1, "table.move") end
  if a2 ~= nil and rtype(a2) ~= "table" then typeerror(5, "table", a2, "table.move") end
  if e >= f then
    if not (f > 0 or e < maxinteger + f) then argerror(3, "too many elements to move", "table.move") end
    local n = e - f + 1
    if not (t <= maxinteger - n + 1) then argerror(4, "destination wrap around", "table.move") end
    if n >= FREE then charge(n * 2) end
  end
  return nmove(a1, f, e, t, a2)
end

local W = { find = find, match = match, gmatch = gmatch, gsub = gsub, rep = rep, format = format,
            sort = sort, move = move }
for _, f in next, W do API[f] = true end
-- The wrappers tail-call the port: its frame then stands for theirs.
API[port.find], API[port.gmatch], API[port.gsub] = true, true, true
return W, control
