-- Lua 5.4's pattern matcher (lstrlib.c: match, gmatch, gsub) ported to Lua.
--
-- patterns.lua runs a match here instead of in C when its worst case is too large to run
-- without the instruction budget: every step of this matcher is a VM instruction, so a
-- pathological pattern ends with the budget error like any other loop. The port follows the
-- C code step by step (same recursion, same lazy errors, same `matchdepth` limit), so its
-- results and messages are the same; tests/unit/test_patterns.py compares the two.
--
-- C work that this file still hands to the native library is linear and never unbounded:
-- membership of one byte in a class (asked once per class and byte), a greedy expansion
-- `^class*` (followed here by as many counted steps as it matched, unless the rest of the
-- pattern succeeds at once), a plain search for a literal first character, and string
-- building (sub/concat).
--
-- Loaded once per Lua state by patterns.lua, with the C functions it captured before the
-- wrappers replaced them. The chunk is compiled under the prelude's name, so user_frame and
-- error locations skip its frames as they skip the prelude's.
local N = ...
local byte, sub, char, nfind, ngsub, concat, format = N.byte, N.sub, N.char, N.find, N.gsub, N.concat, N.format
local getinfo, dgetmetatable, rtype, tostring, error = N.getinfo, N.getmetatable, N.type, N.tostring, N.error
local unpack, rawget = N.unpack, N.rawget

local MAXCAPTURES, MAXCCALLS = 32, 200
local CAP_UNFINISHED, CAP_POSITION = -1, -2

-------------------------------------------------------------------------------------------
-- error positions
--
-- C raises pattern errors with luaL_error, which prefixes the position of the function that
-- called string.find & co. Here that caller is found by walking up to the first frame of an
-- entry point (the API set: the library wrappers and the gmatch iterators made here).
-------------------------------------------------------------------------------------------
local API = setmetatable({}, { __mode = "k" })

-- Name (as the caller sees it), namewhat and position prefix of the innermost entry point.
local function locate()
  local level = 2
  while true do
    local info = getinfo(level, "fn")
    if info == nil then return nil, nil, "" end
    if API[info.func] then
      local ci = getinfo(level + 1, "Sl")
      if ci and ci.currentline > 0 then return info.name, info.namewhat, ci.short_src .. ":" .. ci.currentline .. ": " end
      return info.name, info.namewhat, ""
    end
    level = level + 1
  end
end

local function where()
  local _, _, pre = locate()
  return pre
end

local function perr(msg)
  error(where() .. msg, 0)
end

-------------------------------------------------------------------------------------------
-- match state ("registers" of the running match; a callback that runs another match in
-- between is bracketed by save/restore)
--
-- Pattern items are decoded lazily, at their first visit, into KIND/NEXT/ARG (one entry per
-- pattern position): C decodes an item at every visit and raises for a malformed one only
-- when it gets there, and so does the first visit here.
-------------------------------------------------------------------------------------------
local src, slen, pat, plen = "", 0, "", 0
local pb = {}                    -- pattern bytes
local sb = {}                    -- subject bytes read so far (see at)
local KIND, NEXT, ARG = {}, {}, {}
local level, depth = 0, MAXCCALLS
local cinit, clen = {}, {}

local K_OPEN, K_POS, K_CLOSE, K_DOLLAR, K_BAL, K_FRONT, K_BACK = 1, 2, 3, 4, 5, 6, 7
local K_ONE, K_OPT, K_STAR, K_PLUS, K_MIN = 8, 9, 10, 11, 12   -- a class and its suffix

local function pattern_bytes(p, n)
  if n <= 4096 then return { byte(p, 1, n) } end
  local t = {}
  for i = 1, n, 4096 do
    local chunk = { byte(p, i, i + 4095) }
    for j = 1, #chunk do t[i + j - 1] = chunk[j] end
  end
  return t
end

local function setup(s, p, bytes, items, subject)
  src, slen, pat, plen = s, #s, p, #p
  pb, KIND, NEXT, ARG, sb = bytes, items[1], items[2], items[3], subject
  level, depth = 0, MAXCCALLS
  cinit, clen = {}, {}
end

local function save()
  return { src, slen, pat, plen, pb, KIND, NEXT, ARG, level, depth, cinit, clen, sb }
end

local function restore(r)
  src, slen, pat, plen, pb, KIND, NEXT, ARG, level, depth, cinit, clen, sb = unpack(r, 1, 13)
end

-- Byte at s (nil past the end). The hot loops read `sb[s]` and call this on a miss: a table
-- read costs less than a call to string.byte, and the budget then tracks time better. It
-- reads 64 bytes at a time; subjects over 256 KiB are not copied (16 bytes a byte).
local SB_LIMIT = 262144

local function at(s)
  if s < 1 or s > slen then return nil end
  if slen > SB_LIMIT then return byte(src, s) end
  local a = s - (s - 1) % 64
  local chunk = { byte(src, a, a + 63) }
  for i = 1, #chunk do sb[a + i - 1] = chunk[i] end
  return sb[s]
end

-------------------------------------------------------------------------------------------
-- classes
-------------------------------------------------------------------------------------------
local function class_end(p)
  local c = pb[p]
  p = p + 1
  if c == 37 then                                         -- '%'
    if p > plen then perr("malformed pattern (ends with '%')") end
    return p + 1
  elseif c == 91 then                                     -- '['
    if pb[p] == 94 then p = p + 1 end
    repeat
      if p > plen then perr("malformed pattern (missing ']')") end
      local cc = pb[p]
      p = p + 1
      if cc == 37 and p <= plen then p = p + 1 end
    until pb[p] == 93
    return p + 1
  end
  return p
end

-- A class's membership table: t[byte] is filled in on first use. For `%x` and `[set]` the C
-- library answers (same code, same locale).
local function class_table(p, ep)
  local c = pb[p]
  if c == 46 then return { kind = 0, text = "." } end
  if c == 37 or c == 91 then return { kind = 2, text = sub(pat, p, ep - 1) } end
  local text = char(c)
  if not ((c >= 48 and c <= 57) or (c >= 65 and c <= 90) or (c >= 97 and c <= 122)) then
    text = "%" .. text
  end
  return { kind = 1, lit = c, text = text }
end

local function classify(t, c)
  local r
  if t.kind == 0 then
    r = true
  elseif t.kind == 1 then
    r = c == t.lit
  else
    r = nfind(char(c), "^" .. t.text) ~= nil
  end
  t[c] = r
  return r
end

local function describe(p)
  local c, k = pb[p], nil
  if c == 40 then
    k = pb[p + 1] == 41 and K_POS or K_OPEN
  elseif c == 41 then
    k = K_CLOSE
  elseif c == 36 and p == plen then
    k = K_DOLLAR
  else
    local nx = pb[p + 1]
    if c == 37 and nx == 98 then                          -- %bxy
      if p + 2 >= plen then perr("malformed pattern (missing arguments to '%b')") end
      k = K_BAL
    elseif c == 37 and nx == 102 then                     -- %f[set]
      if pb[p + 2] ~= 91 then perr("missing '[' after '%f' in pattern") end
      local ep = class_end(p + 2)
      ARG[p], NEXT[p], k = class_table(p + 2, ep), ep, K_FRONT
    elseif c == 37 and nx ~= nil and nx >= 48 and nx <= 57 then
      k = K_BACK
    else
      local ep = class_end(p)
      ARG[p], NEXT[p] = class_table(p, ep), ep
      local q = pb[ep]
      if q == 63 then k = K_OPT
      elseif q == 42 then k = K_STAR
      elseif q == 43 then k = K_PLUS
      elseif q == 45 then k = K_MIN
      else k = K_ONE
      end
    end
  end
  KIND[p] = k
  return k
end

-- Repetitions of class `t` from s on (max_expand's first loop), in one linear C call.
local function expand(s, t)
  local xp = t.xp
  if xp == nil then
    xp = "^" .. t.text .. "*"
    t.xp = xp
  end
  local _, e = nfind(src, xp, s)
  return e - s + 1
end

-------------------------------------------------------------------------------------------
-- the matcher
-------------------------------------------------------------------------------------------
local match

-- Class of the item at `rest` when it is a single class without suffix: a try of the rest
-- where that class rejects the byte fails at once, and is skipped (when C would not have
-- raised "pattern too complex" first).
local function rest_class(rest)
  if depth > 0 and rest <= plen and (KIND[rest] or describe(rest)) == K_ONE then return ARG[rest] end
  return nil
end

local function rejects(rt, c)
  if c == nil then return true end
  local r = rt[c]
  if r == nil then r = classify(rt, c) end
  return not r
end

local function max_expand(s, p, t)
  local rest = NEXT[p] + 1
  local rt = rest_class(rest)
  local i = expand(s, t)
  while i >= 0 do
    if not (rt and rejects(rt, sb[s + i] or at(s + i))) then
      local res = match(s + i, rest)
      if res then return res end
    end
    i = i - 1
  end
  return nil
end

local function min_expand(s, p, t)
  local rest = NEXT[p] + 1
  local rt = rest_class(rest)
  while true do
    local c = sb[s] or at(s)
    if not (rt and rejects(rt, c)) then
      local res = match(s, rest)
      if res then return res end
    end
    if c == nil then return nil end
    local ok = t[c]
    if ok == nil then ok = classify(t, c) end
    if not ok then return nil end
    s = s + 1
  end
end

local function start_capture(s, p, what)
  if level >= MAXCAPTURES then perr("too many captures") end
  level = level + 1
  cinit[level] = s
  clen[level] = what
  local res = match(s, p)
  if res == nil then level = level - 1 end
  return res
end

local function end_capture(s, p)
  local l = level
  while l > 0 and clen[l] ~= CAP_UNFINISHED do l = l - 1 end
  if l == 0 then perr("invalid pattern capture") end
  clen[l] = s - cinit[l]
  local res = match(s, p)
  if res == nil then clen[l] = CAP_UNFINISHED end
  return res
end

local function matchbalance(s, p)
  local b = pb[p]
  if s > slen or byte(src, s) ~= b then return nil end
  local e = pb[p + 1]
  local cont = 1
  s = s + 1
  while s <= slen do
    local c = byte(src, s)
    if c == e then
      cont = cont - 1
      if cont == 0 then return s + 1 end
    elseif c == b then
      cont = cont + 1
    end
    s = s + 1
  end
  return nil
end

-- src[a..a+len-1] == src[b..b+len-1], compared in slices so that each step is small
local function same(a, b, len)
  while len > 64 do
    if sub(src, a, a + 63) ~= sub(src, b, b + 63) then return false end
    a, b, len = a + 64, b + 64, len - 64
  end
  return sub(src, a, a + len - 1) == sub(src, b, b + len - 1)
end

local function match_capture(s, d)
  local l = d - 48
  if l < 1 or l > level or clen[l] == CAP_UNFINISHED then
    perr(format("invalid capture index %%%d", l))
  end
  local len = clen[l]
  if len >= 0 and slen - s + 1 >= len and same(cinit[l], s, len) then return s + len end
  return nil
end

match = function(s, p)
  if depth == 0 then perr("pattern too complex") end
  depth = depth - 1
  while p <= plen do
    local k = KIND[p] or describe(p)
    if k >= K_ONE then
      local t = ARG[p]
      local c = sb[s] or at(s)
      local ok = false
      if c ~= nil then
        ok = t[c]
        if ok == nil then ok = classify(t, c) end
      end
      if k == K_ONE then
        if not ok then
          s = nil
          break
        end
        s, p = s + 1, NEXT[p]
      elseif not ok then
        if k == K_PLUS then
          s = nil
          break
        end
        p = NEXT[p] + 1                                   -- '*' '?' '-': accept empty
      elseif k == K_OPT then
        local res = match(s + 1, NEXT[p] + 1)
        if res then
          s = res
          break
        end
        p = NEXT[p] + 1
      elseif k == K_MIN then
        s = min_expand(s, p, t)
        break
      elseif k == K_PLUS then
        s = max_expand(s + 1, p, t)
        break
      else
        s = max_expand(s, p, t)
        break
      end
    elseif k == K_OPEN then
      s = start_capture(s, p + 1, CAP_UNFINISHED)
      break
    elseif k == K_POS then
      s = start_capture(s, p + 2, CAP_POSITION)
      break
    elseif k == K_CLOSE then
      s = end_capture(s, p + 1)
      break
    elseif k == K_DOLLAR then
      if s ~= slen + 1 then s = nil end
      break
    elseif k == K_BAL then
      s = matchbalance(s, p + 2)
      if s == nil then break end
      p = p + 4
    elseif k == K_FRONT then
      local t = ARG[p]
      local prev = s == 1 and 0 or byte(src, s - 1)
      local cur = byte(src, s) or 0
      local a = t[prev]
      if a == nil then a = classify(t, prev) end
      local b = t[cur]
      if b == nil then b = classify(t, cur) end
      if a or not b then
        s = nil
        break
      end
      p = NEXT[p]
    else                                                  -- K_BACK
      s = match_capture(s, pb[p + 1])
      if s == nil then break end
      p = p + 2
    end
  end
  depth = depth + 1
  return s
end

-------------------------------------------------------------------------------------------
-- captures
-------------------------------------------------------------------------------------------
local function get_capture(i, s, e)
  if i > level then
    if i ~= 1 then perr(format("invalid capture index %%%d", i)) end
    return sub(src, s, e - 1)
  end
  local l = clen[i]
  if l == CAP_UNFINISHED then perr("unfinished capture") end
  if l == CAP_POSITION then return cinit[i] end
  return sub(src, cinit[i], cinit[i] + l - 1)
end

-- All captures (the whole match if there are none and `s` is given), as a list: callers
-- must not tail-call anything that can raise, or the entry point's frame is gone from
-- the stack when `locate` looks for it.
local function captures(s, e)
  local n = (level == 0 and s) and 1 or level
  local t = {}
  for i = 1, n do t[i] = get_capture(i, s, e) end
  return t, n
end

-- Literal first character of the pattern from p (no quantifier after it), or nil: a match
-- can only start where that byte is, so the scan may jump there with a plain search.
local function first_literal(p)
  local c = pb[p]
  if c == nil or c == 40 or c == 41 or c == 37 or c == 91 or c == 46 then return nil end
  if c == 36 and p == plen then return nil end
  local q = pb[p + 1]
  if q == 42 or q == 43 or q == 45 or q == 63 then return nil end
  return char(c)
end

-------------------------------------------------------------------------------------------
-- entry points (arguments already checked by patterns.lua; init is 1-based, <= #s + 1)
-------------------------------------------------------------------------------------------
local M = { API = API, locate = locate }

function M.find(s, p, init, isfind)
  local bytes = pattern_bytes(p, #p)
  setup(s, p, bytes, { {}, {}, {} }, {})
  local pi = 1
  local anchor = bytes[1] == 94
  if anchor then pi = 2 end
  local lit = not anchor and first_literal(pi)
  local s1 = init
  while true do
    if lit then
      s1 = nfind(src, lit, s1, true)
      if s1 == nil then return nil end
    end
    level = 0
    local e = match(s1, pi)
    if e then
      if isfind then
        local t, n = captures(nil, e)
        return s1, e - 1, unpack(t, 1, n)
      end
      local t, n = captures(s1, e)
      return unpack(t, 1, n)
    end
    s1 = s1 + 1
    if anchor or s1 > slen + 1 then return nil end
  end
end

function M.gmatch(s, p, init)
  local bytes, items, subject = pattern_bytes(p, #p), { {}, {}, {} }, {}
  local pos, lastmatch = init, nil
  local lit
  local function iter()
    setup(s, p, bytes, items, subject)
    if lit == nil then lit = first_literal(1) or false end
    while pos <= slen + 1 do
      if lit then
        local q = nfind(src, lit, pos, true)
        if q == nil then
          pos = slen + 2
          break
        end
        pos = q
      end
      level = 0
      local e = match(pos, 1)
      if e and e ~= lastmatch then
        local t, n = captures(pos, e)
        pos, lastmatch = e, e
        return unpack(t, 1, n)
      end
      pos = pos + 1
    end
  end
  API[iter] = true
  return iter
end

-- Replacement string: pieces (strings and capture indexes, 0 = whole match), or the error
-- that C raises when it meets the bad escape (only once a match happens).
local function parse_repl(r)
  local parts, n, i = {}, 0, 1
  while true do
    local q = nfind(r, "%", i, true)
    if q == nil then break end
    if q > i then
      n = n + 1
      parts[n] = sub(r, i, q - 1)
    end
    local d = byte(r, q + 1)
    if d == 37 then
      n = n + 1
      parts[n] = "%"
    elseif d ~= nil and d >= 48 and d <= 57 then
      n = n + 1
      parts[n] = d - 48
    else
      -- text before the bad escape is added before C raises; it is discarded anyway
      return parts, n, "invalid use of '%' in replacement string"
    end
    i = q + 2
  end
  if i <= #r then
    n = n + 1
    parts[n] = sub(r, i)
  end
  return parts, n, nil
end

local function add_s(out, no, s, e, parts, np, bad)
  for i = 1, np do
    local v = parts[i]
    if rtype(v) == "string" then
      no = no + 1
      out[no] = v
    elseif v == 0 then
      no = no + 1
      out[no] = sub(src, s, e - 1)
    else
      local cap = get_capture(v, s, e)
      no = no + 1
      out[no] = rtype(cap) == "number" and tostring(cap) or cap
    end
  end
  if bad then perr(bad) end
  return no
end

function M.gsub(s, p, repl, tr, max_s)
  local bytes = pattern_bytes(p, #p)
  setup(s, p, bytes, { {}, {}, {} }, {})
  local anchor = bytes[1] == 94
  local pi = anchor and 2 or 1
  local lit = not anchor and first_literal(pi)
  local parts, np, bad
  if tr == "string" or tr == "number" then parts, np, bad = parse_repl(tostring(repl)) end
  -- A function (or a table's __index) runs under a C gsub, as it would in C: it cannot
  -- yield (durable calls fail with "attempt to yield across a C-call boundary").
  local cb_args, cb_n, cb_value
  local function trampoline()
    if tr == "function" then
      cb_value = repl(unpack(cb_args, 1, cb_n))
    else
      cb_value = repl[cb_args[1]]
    end
    return false
  end
  local out, no = {}, 0
  local pos, copied, lastmatch, n, changed = 1, 1, nil, 0, false
  while n < max_s do
    if lit then
      local q = nfind(src, lit, pos, true)
      if q == nil then break end
      pos = q
    end
    level = 0
    local e = match(pos, pi)
    if e and e ~= lastmatch then
      n = n + 1
      if pos > copied then
        no = no + 1
        out[no] = sub(src, copied, pos - 1)
      end
      if parts then
        no = add_s(out, no, pos, e, parts, np, bad)
        changed = true
      else
        local v
        if tr == "table" and dgetmetatable(repl) == nil then
          v = rawget(repl, get_capture(1, pos, e))
        else
          if tr == "function" then
            cb_args, cb_n = captures(pos, e)
          else
            cb_args = { get_capture(1, pos, e) }
          end
          local regs = save()
          ngsub("", "", trampoline)
          restore(regs)
          v, cb_value, cb_args = cb_value, nil, nil
        end
        if not v then
          no = no + 1
          out[no] = sub(src, pos, e - 1)
        else
          local tv = rtype(v)
          if tv ~= "string" and tv ~= "number" then
            perr(format("invalid replacement value (a %s)", tv))
          end
          no = no + 1
          out[no] = tv == "number" and tostring(v) or v
          changed = true
        end
      end
      copied = e
      pos, lastmatch = e, e
    elseif pos <= slen then
      pos = pos + 1
    else
      break
    end
    if anchor then break end
  end
  if not changed then return s, n end
  if copied <= slen then
    no = no + 1
    out[no] = sub(src, copied, slen)
  end
  return concat(out, "", 1, no), n
end

return M
