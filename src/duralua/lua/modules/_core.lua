-- duralua core Lua helpers shared by lua/convert.py and every module (one copy per Lua state).
--
-- Executed once per LuaRuntime, at install time, from Python (never reachable by user code).
-- Returns a table of privileged helpers. Everything user code can reach from here is a
-- "userdata-looking" object: a table whose metatable has __name, __userdata = true and
-- __metatable = false, with its methods in a separate __index table (so `obj.__index` does not
-- leak the metatable). Each methods table carries the private key CLS -> class name, which is
-- how the helpers recognise their own objects (getmetatable() answers false for all of them).
local anchor = ...

local type, next, pairs, getmetatable, setmetatable, rawget, rawset, rawequal, tostring, select, error =
  type, next, pairs, getmetatable, setmetatable, rawget, rawset, rawequal, tostring, select, error
local mtype, tointeger, huge = math.type, math.tointeger, math.huge
local format, gsub, find = string.format, string.gsub, string.find
local concat, sort, unpack = table.concat, table.sort, table.unpack
local getinfo = debug and debug.getinfo   -- optional: only used for error stacks
local dgetmetatable = debug and debug.getmetatable  -- optional: raw metatables (else getmetatable)

local G = _G
local C = {}

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

-- Lua-side helpers for the slow (diagnostic) path of to_python ---------------------------

-- Keys of t sorted (integers first, then strings, then the rest by tostring), and a shape tag.
local function key_less(a, b)
  local ta, tb = type(a), type(b)
  if ta == tb and (ta == "number" or ta == "string") then return a < b end
  local ra = ta == "number" and 0 or ta == "string" and 1 or 2
  local rb = tb == "number" and 0 or tb == "string" and 1 or 2
  if ra ~= rb then return ra < rb end
  return tostring(a) < tostring(b)
end

function C.sorted_keys(t)
  local ks, n = {}, 0
  for k in next, t do n = n + 1; ks[n] = k end
  sort(ks, key_less)
  return ks, n
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

-- First repeated table in an array of tables (cycle diagnosis): index of the first
-- occurrence and of the repetition, or nil.
function C.find_repeat(list, n)
  local seen = {}
  for i = 1, n do
    local v = list[i]
    local j = seen[v]
    if j then return j, i end
    seen[v] = i
  end
  return nil, nil
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

-- For Python: the fields of an error object (nil when v is not one).
function C.error_fields(v)
  if classof(v) ~= "error" then return nil end
  return true, v._k, v._m, v._r, v._d, E.stack(v)
end

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
-- bytes helpers: binary strings cannot cross into Python (UTF-8 decoding), so functions that
-- take raw bytes receive them hex-encoded.
-------------------------------------------------------------------------------------------
local HEX = {}
for i = 0, 255 do HEX[string.char(i)] = format("%02x", i) end
function C.tohex(s) return (gsub(s, ".", HEX)) end

-- Wrap a Python callback for user code. Python reports a programming error (wrong argument
-- type...) by returning RAISE, message: the wrapper raises it as a Lua error at the caller.
-- Arguments at the positions listed in `...` are raw-byte strings and are passed hex-encoded
-- (other types pass unchanged and the Python side rejects them).
local RAISE = {}
C.RAISE = RAISE
local function check(a, ...)
  if a == RAISE then error((...), 2) end   -- level 2: the wrapper was tail-called away
  return a, ...
end

function C.pyfn(fn)
  return function(...) return check(fn(...)) end
end

-- Like pyfn, for functions taking raw bytes at the listed positions: first call `text_fn`
-- with the strings as they are (fast; works for valid UTF-8); if the call fails (a binary
-- string cannot cross into Python), call `hex_fn` with those strings hex-encoded.
local pack = table.pack
function C.pyfn_bytes(text_fn, hex_fn, ...)
  local nb = select("#", ...)
  local which = { ... }
  local tohex = C.tohex
  return function(...)
    local r = pack(pcall(text_fn, ...))
    if r[1] then return check(unpack(r, 2, r.n)) end
    local n = select("#", ...)
    local args = { ... }
    for j = 1, nb do
      local i = which[j]
      if type(args[i]) == "string" then args[i] = tohex(args[i]) end
    end
    return check(hex_fn(unpack(args, 1, n)))
  end
end

-- Copy a module table so each install gets its own (user code may add fields).
function C.copy(t)
  local out = {}
  for k, v in next, t do out[k] = v end
  return out
end

return C
