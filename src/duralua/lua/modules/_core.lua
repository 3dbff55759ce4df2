-- duralua core Lua helpers shared by lua/convert.py and every module (one copy per Lua state).
--
-- Executed once per LuaRuntime, at install time, from Python (never reachable by user code).
-- Returns a table of privileged helpers. Everything user code can reach from here is a
-- "userdata-looking" object: a table whose metatable has __name, __userdata = true and
-- __metatable = false, with its methods in a separate __index table (so `obj.__index` does not
-- leak the metatable). Each methods table carries the private key CLS -> class name, which is
-- how the helpers recognise their own objects (getmetatable() answers false for all of them).
local anchor, MAX_DEPTH, BINARY = ...

local type, next, pairs, getmetatable, setmetatable, rawget, rawset, rawequal, tostring, select, error =
  type, next, pairs, getmetatable, setmetatable, rawget, rawset, rawequal, tostring, select, error
local mtype, tointeger, huge = math.type, math.tointeger, math.huge
local format, gsub, find, byte = string.format, string.gsub, string.find, string.byte
local utf8len = utf8.len
local concat, sort, unpack = table.concat, table.sort, table.unpack
local getinfo = debug and debug.getinfo   -- optional: only used for error stacks
local dgetmetatable = debug and debug.getmetatable  -- optional: raw metatables (else getmetatable)

local G = _G
local C = { BINARY = BINARY }

-- The raw `next` (the sandbox's prelude replaces the global one by a sorted traversal): for
-- our own loops, where order does not matter.
local rnext = next
do
  local reg = debug and debug.getregistry and debug.getregistry()
  if type(reg) == "table" and reg["duralua.next"] then rnext = reg["duralua.next"] end
  -- and the C string functions (the sandbox wraps them to charge their cost to the budget;
  -- every pattern used here is linear, and the export is charged instruction by instruction)
  local cs = type(reg) == "table" and reg["duralua.cstring"]
  if cs then format, gsub, find = cs.format, cs.gsub, cs.find end
end
C.rnext, C.cfind = rnext, find

-- Keep the Python-side state alive exactly as long as this Lua state (see convert.py).
do
  local reg = debug and debug.getregistry and debug.getregistry()
  if type(reg) == "table" then reg["duralua.state"] = anchor else rawset(G, C, anchor) end
end

local CLS = {}          -- private key: methods[CLS] = class name
C.CLS = CLS

-- Tables created from a JSON object (weak set): an empty one encodes as {} instead of [].
local OBJ = setmetatable({}, { __mode = "k" })
C.OBJ = OBJ

function C.mark_object(t) OBJ[t] = true return t end
function C.is_object(t) return OBJ[t] == true end

local CLASSES = setmetatable({}, { __mode = "k" })  -- metatable -> class name (ours only)

function C.class(name, methods)
  methods = methods or {}
  methods[CLS] = name
  methods.__userdata = name   -- truthy (the sandbox reads mt.__userdata == true)
  methods.__name = name
  local mt = { __name = name, __userdata = true, __metatable = false, __index = methods }
  CLASSES[mt] = name
  return mt, methods
end

-- Class name of one of our objects, or nil.
local classof
if dgetmetatable then
  classof = function(v)
    local mt = dgetmetatable(v)
    return mt and CLASSES[mt]
  end
else
  classof = function(v)
    if type(v) ~= "table" or getmetatable(v) ~= false then return nil end
    return v[CLS]
  end
end
C.classof = classof

-- For to_python: nil for a plain table (user metatables included), the class name of one of
-- our objects, true for other userdata-looking tables (metatable with __userdata, e.g. the
-- process driver's Channel/Future).
function C.udclass(v)
  local mt
  if dgetmetatable then
    mt = dgetmetatable(v)
  else
    mt = getmetatable(v)
    if mt == false then return v[CLS] or (v.__userdata and true) or nil end
  end
  if type(mt) ~= "table" then return nil end
  local name = CLASSES[mt]
  if name then return name end
  if rawget(mt, "__userdata") then return true end
  return nil
end

function C.key_desc(k)
  local tk = type(k)
  if tk == "number" then
    if mtype(k) == "float" then return "float " .. format("%.17g", k) end
    return "integer " .. format("%d", k)
  end
  if tk == "string" then return "string" end
  return tk
end

C.rawequal = rawequal

-------------------------------------------------------------------------------------------
-- error objects
-------------------------------------------------------------------------------------------
local E = {}
local ErrorMT = C.class("error", E)
C.ErrorMT = ErrorMT

local function stack_frames(level)
  if not getinfo then return nil end
  local frames, n = {}, 0
  while n < 32 do
    local info = getinfo(level, "Sln")
    if not info then break end
    if info.what ~= "C" then
      n = n + 1
      frames[n] = { source = info.short_src, line = info.currentline, name = info.name }
    end
    level = level + 1
  end
  return frames
end

local function format_frames(frames)
  if not frames or not frames[1] then return "" end
  local lines = {}
  for i = 1, #frames do
    local f = frames[i]
    lines[i] = format("%s:%d: in %s", tostring(f.source), f.line or 0,
      f.name and ("function '" .. tostring(f.name) .. "'") or "main chunk")
  end
  return concat(lines, "\n")
end

-- kind, message, retryable, details, stack text (from a Failure), frames, context
local function new_error(kind, message, retryable, details, stack, frames, context)
  return setmetatable({ _k = kind or "", _m = message or "", _r = retryable, _d = details,
    _s = stack, _f = frames, _c = context }, ErrorMT)
end
C.new_error = new_error

-- A new error whose stack starts `skip` frames above the caller of error_here.
function C.error_here(kind, message, retryable, details, skip)
  return new_error(kind, message, retryable, details, nil, stack_frames(3 + (skip or 0)), nil)
end

function E.kind(e) return e._k end
function E.message(e) return e._m end
function E.retryable(e) return e._r end
function E.details(e) return e._d end
function E.stack(e)
  local parts = {}
  if e._c then parts[#parts + 1] = e._c end
  if e._s and e._s ~= "" then parts[#parts + 1] = e._s end
  local fr = format_frames(e._f)
  if fr ~= "" then parts[#parts + 1] = fr end
  return concat(parts, "\n")
end

local function error_text(e)
  if e._c then return e._c .. ": " .. e._m end
  return e._m
end
ErrorMT.__tostring = error_text
local function str(v)
  if classof(v) == "error" then return error_text(v) end
  return tostring(v)
end
ErrorMT.__concat = function(a, b) return str(a) .. str(b) end

-- errors.* functions -----------------------------------------------------------------------
local KINDS = {}
local M = {}
C.errors = M

function M.new(v)
  local tv = type(v)
  if tv == "string" then local e = C.error_here("", v, nil, nil, 1) return e end -- (no tail call: keeps the frame)
  if classof(v) == "error" then return v end
  if tv == "table" then
    local msg = rawget(v, "message")
    if type(msg) ~= "string" then error("errors.new: message (string) is required", 2) end
    local kind = rawget(v, "kind")
    if kind ~= nil and type(kind) ~= "string" then error("errors.new: kind must be a string", 2) end
    local retryable = rawget(v, "retryable")
    if retryable ~= nil and type(retryable) ~= "boolean" then
      error("errors.new: retryable must be a boolean", 2)
    end
    local details = rawget(v, "details")
    if details ~= nil and type(details) ~= "table" then error("errors.new: details must be a table", 2) end
    if details ~= nil and rnext(details) == nil then details = nil end -- no details, as :details() says
    local e = C.error_here(kind or "", msg, retryable, details, 1)
    return e
  end
  error("errors.new expects a message string or a table {message=, kind=, retryable=, details=}", 2)
end

function M.wrap(inner, context)
  if inner == nil then return nil end
  if context ~= nil and type(context) ~= "string" then context = tostring(context) end
  if classof(inner) == "error" then
    local ctx = context
    if inner._c then ctx = ctx and (ctx .. ": " .. inner._c) or inner._c end
    local e = new_error(inner._k, inner._m, inner._r, inner._d, nil, stack_frames(3), ctx)
    local below = E.stack(inner)
    if below ~= "" then e._s = below end
    return e
  end
  if type(inner) ~= "string" then inner = tostring(inner) end
  return new_error("", inner, nil, nil, nil, stack_frames(3), context)
end

function M.is(v, kind)
  if classof(v) ~= "error" then return false end
  if classof(kind) == "error" then kind = kind._k end
  return v._k == kind
end

function M.call_stack(v)
  if classof(v) ~= "error" then return nil end
  local frames = {}
  local src = v._f or {}
  for i = 1, #src do
    local f = src[i]
    frames[i] = { source = f.source, line = f.line, name = f.name }
  end
  return { thread = "main", frames = frames }
end

C.KINDS = KINDS

-------------------------------------------------------------------------------------------
-- export: the one Lua -> Python conversion (design §4). A value becomes JSON text here, in
-- Lua, so that it runs under the instruction budget of whoever calls it, no user code runs
-- (no metamethods: raw reads only) and Python only ever receives a string. A value that
-- cannot cross gives nil, reason, path instead.
--
-- Error objects are written as {"\udfff": [kind, message, retryable, details, stack]}: a
-- lone surrogate cannot come from a Lua string (those must be valid UTF-8), so the marker
-- cannot be forged by user data. Other objects of ours (Time, Channel, Payload...) are
-- dropped: left out of objects, null in arrays.
-------------------------------------------------------------------------------------------
local EXPORT_LIMIT = 64 * 1024 * 1024  -- bytes of JSON one value may become (DAGs grow fast)
local TOO_LARGE = "value too large to cross a boundary (more than 64 MiB as JSON)"

local ESC = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n", ["\r"] = "\\r",
  ["\t"] = "\\t" }
for i = 0, 31 do
  local ch = string.char(i)
  if not ESC[ch] then ESC[ch] = format("\\u%04x", i) end
end
ESC["\127"] = "\\u007f"
local function jstr(s) return '"' .. gsub(s, '[%c"\\]', ESC) .. '"' end

-- Text that must reach Python whatever it holds (log lines, fallback messages): bytes that
-- are not UTF-8 are shown as \xNN.
local function clean(s)
  if utf8len(s) then return s end
  return (gsub(s, "[\128-\255]", function(ch) return format("\\x%02X", byte(ch)) end))
end
C.clean = clean

local function path_of(base, keys, d)
  local parts = { base }
  for i = 1, d do
    local k = keys[i]
    if type(k) == "number" then parts[i + 1] = "[" .. format("%d", k) .. "]" else parts[i + 1] = "." .. k end
  end
  return concat(parts)
end

local function dropped(x)
  if type(x) ~= "table" then return false end
  local ud = C.udclass(x)
  return ud ~= nil and ud ~= "error"
end

local function fail(S, reason, d)
  S.reason, S.at = reason, d
  return false
end

local function put(S, text)
  local nb = S.nb + 1
  S.nb = nb
  S.buf[nb] = text
end

local walk

local function walk_error(S, x, d)
  local k, m, r, det = rawget(x, "_k"), rawget(x, "_m"), rawget(x, "_r"), rawget(x, "_d")
  if type(k) ~= "string" or type(m) ~= "string" then
    return fail(S, "damaged error object (its kind or message is not a string)", d)
  end
  if not utf8len(m) then return fail(S, "the error message is a " .. BINARY, d) end
  if not utf8len(k) then return fail(S, "the error kind is a " .. BINARY, d) end
  local ok, stack = pcall(E.stack, x)
  if not ok or type(stack) ~= "string" then stack = "" end
  put(S, '{"\\udfff":[' .. jstr(k) .. "," .. jstr(m) .. "," .. (r == true and "true" or r == false and "false" or "null")
    .. ",")
  if det == nil or dropped(det) then
    put(S, "null")
  else
    S.keys[d + 1] = "details"
    if not walk(S, det, d + 1) then return false end
  end
  put(S, "," .. jstr(clean(stack)) .. "]}")
  return true
end

local function walk_table(S, x, d)
  local ud = C.udclass(x)
  if ud ~= nil then
    if ud == "error" then return walk_error(S, x, d) end
    put(S, "null")
    return true
  end
  if d > MAX_DEPTH then return fail(S, format("nesting deeper than %d levels", MAX_DEPTH), d) end
  local onpath = S.onpath
  local seen = onpath[x]
  if seen then return fail(S, "cycle: this table is the same table as " .. path_of(S.base, S.keys, seen), d) end
  local n, nstr, strs, odd, minint, maxint = 0, 0, nil, nil, nil, nil
  for k in rnext, x do
    n = n + 1
    local tk = type(k)
    if tk == "string" then
      nstr = nstr + 1
      if strs then strs[nstr] = k else strs = { k } end
    elseif mtype(k) == "integer" then
      if minint == nil or k < minint then minint = k end
      if maxint == nil or k > maxint then maxint = k end
    elseif odd == nil or (tk == "number" and (type(odd) ~= "number" or k < odd)) then
      odd = k  -- the smallest float key, else any (the message names only its type then)
    end
  end
  if n == 0 then
    put(S, OBJ[x] and "{}" or "[]")
    return true
  end
  if odd ~= nil then
    return fail(S, "table key of type " .. C.key_desc(odd)
      .. " cannot be encoded (keys must be strings or array indexes 1..n)", d)
  end
  S.size = S.size + n
  local keys = S.keys
  if strs then
    sort(strs)
    for i = 1, nstr do
      local k = strs[i]
      if not utf8len(k) then return fail(S, "a table key is a " .. BINARY, d) end
      S.size = S.size + #k
    end
    if minint ~= nil then
      return fail(S, format("mixed table: array indexes and string keys (e.g. [%d] and .%s) cannot be encoded together",
        minint, strs[1]), d)
    end
    if S.size > EXPORT_LIMIT then return fail(S, TOO_LARGE, d) end
    onpath[x] = d
    local sep = "{"
    for i = 1, nstr do
      local k = strs[i]
      local v = rawget(x, k)
      if not dropped(v) then
        put(S, sep .. jstr(k) .. ":")
        sep = ","
        keys[d + 1] = k
        if not walk(S, v, d + 1) then return false end
      end
    end
    put(S, sep == "{" and "{}" or "}")
  else
    if minint < 1 then
      return fail(S, format("sparse array: index %d is not a valid array index (arrays use keys 1..n)", minint), d)
    end
    if maxint ~= n then
      local missing = 1
      while rawget(x, missing) ~= nil do missing = missing + 1 end
      return fail(S, format("sparse array: index %d is missing (nil) but index %d is set", missing, maxint), d)
    end
    if S.size > EXPORT_LIMIT then return fail(S, TOO_LARGE, d) end
    onpath[x] = d
    put(S, "[")
    for i = 1, n do
      if i > 1 then put(S, ",") end
      local v = rawget(x, i)
      keys[d + 1] = i
      if dropped(v) then put(S, "null") elseif not walk(S, v, d + 1) then return false end
    end
    put(S, "]")
  end
  onpath[x] = nil
  return true
end

walk = function(S, x, d)
  local tx = type(x)
  if tx == "string" then
    if not utf8len(x) then return fail(S, BINARY, d) end
    local size = S.size + #x
    S.size = size
    if size > EXPORT_LIMIT then return fail(S, TOO_LARGE, d) end
    put(S, jstr(x))
  elseif tx == "number" then
    if mtype(x) == "integer" then
      put(S, format("%d", x))
    elseif x ~= x then
      return fail(S, "NaN cannot be encoded", d)
    elseif x == huge or x == -huge then
      return fail(S, "infinity cannot be encoded", d)
    else
      local text = format("%.17g", x)  -- 17 digits: Python reads back the same double
      if not find(text, "[.e]") then text = text .. ".0" end  -- stays a float (2.0, not 2)
      put(S, text)
    end
  elseif tx == "boolean" then
    put(S, x and "true" or "false")
  elseif tx == "nil" then
    put(S, "null")
  elseif tx == "table" then
    return walk_table(S, x, d)
  elseif tx == "function" then
    return fail(S, "a function cannot be encoded", d)
  elseif tx == "thread" then
    return fail(S, "a coroutine cannot be encoded", d)
  else
    return fail(S, "a userdata value cannot be encoded", d)
  end
  return true
end

-- JSON text of `v`, or nil, reason, path (`base` names the root: "result", "args[2]").
-- The common scalars, without the walker's state (nil when `v` needs the walker).
local function quick(v)
  local tv = type(v)
  if tv == "string" then
    if #v <= EXPORT_LIMIT and utf8len(v) then return jstr(v) end
  elseif tv == "boolean" then
    return v and "true" or "false"
  elseif tv == "nil" then
    return "null"
  elseif mtype(v) == "integer" then
    return format("%d", v)
  end
  return nil
end

function C.export(v, base)
  local text = quick(v)
  if text ~= nil then return text end
  base = base or "value"
  local S = { buf = {}, nb = 0, size = 0, keys = {}, onpath = {}, base = base }
  if walk(S, v, 0) then return concat(S.buf, "", 1, S.nb) end
  return nil, S.reason, path_of(base, S.keys, S.at)
end
local export = C.export

-- JSON array of t[1..n] (nil -> null), elements named base[i].
function C.export_list(t, n, base)
  local parts = {}
  for i = 1, n do
    local v = t[i]
    local text = quick(v)
    if text == nil then
      local reason, where
      text, reason, where = export(v, format("%s[%d]", base, i))
      if text == nil then return nil, reason, where end
    end
    parts[i] = text
  end
  return "[" .. concat(parts, ",", 1, n) .. "]"
end

-- A value that cannot cross: binary strings are the caller's data error (kind Invalid, by
-- the binary data policy); other shapes keep the codec's error.
local function is_binary(reason) return find(reason, BINARY, 1, true) ~= nil end

-- The tag of a result that cannot cross: "invalid" (binary) or "encode" (see C.result_of).
function C.problem_tag(reason) return is_binary(reason) and "invalid" or "encode" end

-- How a raised error value (or the `err` of `return nil, err`) reaches Python, as (tag, payload):
--   "failure", json   an error object (exported)
--   "text", string    a message (kind Internal)
--   "json", json      a plain table, shown as its JSON text
--   "scalar", v       a number, boolean or nil (Python formats it)
--   "invalid", string the value cannot cross (a binary string): kind Invalid, not retryable
--   "py", object      a Python exception raised by a callback
-- Runs user code (a __tostring metamethod): call it under a budget with a fallback.
function C.describe(v, base)
  local tv = type(v)
  if tv == "string" then
    if utf8len(v) then return "text", v end
    return "invalid", base .. ": " .. BINARY
  elseif tv == "number" or tv == "boolean" or tv == "nil" then
    return "scalar", v
  elseif tv == "userdata" then
    return "py", v
  elseif tv ~= "table" then
    return "text", "(error value is a " .. (tv == "thread" and "coroutine" or tv) .. ")"
  end
  local ud = C.udclass(v)
  local mt = dgetmetatable and dgetmetatable(v) or nil
  if ud ~= "error" and (ud ~= nil or (type(mt) == "table" and rawget(mt, "__tostring") ~= nil)) then
    local ok, s = pcall(tostring, v)
    if not ok then
      local why = type(s) == "string" and s or "its __tostring raised a " .. type(s)
      return "text", "(error value could not be converted: " .. clean(why) .. ")"
    end
    if not utf8len(s) then return "invalid", base .. " (tostring of the error value): " .. BINARY end
    return "text", s
  end
  local text, reason, where = export(v, base)
  if text == nil then
    if is_binary(reason) then return "invalid", where .. ": " .. reason end
    return "text", "(error value cannot be shown: " .. where .. ": " .. reason .. ")"
  end
  if ud == "error" then return "failure", text end
  return "json", text
end

-- The main coroutine's outcome from its return values: "ok", json | "error", tag, payload
-- (tag "encode": the result is not JSON, a codec error of kind Internal).
function C.result_of(v, err)
  if err ~= nil and err ~= false then return "error", C.describe(err, "error") end
  local text, reason, where = export(v, "result")
  if text ~= nil then return "ok", text end
  return "error", is_binary(reason) and "invalid" or "encode", where .. ": " .. reason
end

-------------------------------------------------------------------------------------------
-- bytes helpers: binary strings cannot cross into Python (UTF-8 decoding), so functions that
-- take raw bytes receive them hex-encoded.
-------------------------------------------------------------------------------------------
local HEX = {}
for i = 0, 255 do HEX[string.char(i)] = format("%02x", i) end
function C.tohex(s) return (gsub(s, ".", HEX)) end

-- Wrap a Python callback for user code. Python reports a programming error (wrong argument
-- type...) by returning RAISE, message: the wrapper raises it as a Lua error at the caller.
-- String arguments must be valid UTF-8 (lupa could not decode them otherwise), except at the
-- positions given to pyfn_bytes, which take raw bytes.
local RAISE = {}
C.RAISE = RAISE
local function check(a, ...)
  if rawequal(a, RAISE) then error((...), 2) end   -- level 2: the wrapper was tail-called away
  return a, ...
end

local function binary_arg(i) error(format("bad argument #%d (%s)", i, BINARY), 3) end

function C.pyfn(fn)
  return function(...)
    for i = 1, select("#", ...) do
      local a = select(i, ...)
      if type(a) == "string" and not utf8len(a) then binary_arg(i) end
    end
    return check(fn(...))
  end
end

-- Like pyfn, for functions taking raw bytes at the listed positions: `text_fn` gets them as
-- they are when they are all valid UTF-8 (the common case), `hex_fn` hex-encoded otherwise.
local pack = table.pack
function C.pyfn_bytes(text_fn, hex_fn, ...)
  local raw = {}
  for _, i in ipairs({ ... }) do raw[i] = true end
  local tohex = C.tohex
  return function(...)
    local n = select("#", ...)
    local hex = false
    for i = 1, n do
      local a = select(i, ...)
      if type(a) == "string" and not utf8len(a) then
        if not raw[i] then binary_arg(i) end
        hex = true
      end
    end
    if not hex then return check(text_fn(...)) end
    local args = { ... }
    for i in next, raw do
      if type(args[i]) == "string" then args[i] = tohex(args[i]) end
    end
    return check(hex_fn(unpack(args, 1, n)))
  end
end

-- Copy a module table so each install gets its own (user code may add fields). Nested plain
-- tables (crypto.random, payload.format...) are copied too: a template is shared by every run
-- of a Lua state, so nothing of it may be reachable for writing.
local function copy(t)
  local out = {}
  for k, v in rnext, t do
    if type(v) == "table" and getmetatable(v) == nil then v = copy(v) end
    out[k] = v
  end
  return out
end
C.copy = copy

-- Shared objects (time.utc, time.Local): their raw fields are put back as they were after
-- every run, so that one run writing into them cannot change the next.
local SHARED = setmetatable({}, { __mode = "k" })
function C.share(obj)
  local snap = {}
  for k, v in rnext, obj do snap[k] = v end
  SHARED[obj] = snap
  return obj
end
function C.restore_shared()
  for obj, snap in rnext, SHARED do
    for k in rnext, obj do if snap[k] == nil then rawset(obj, k, nil) end end
    for k, v in rnext, snap do rawset(obj, k, v) end
  end
end

return C
