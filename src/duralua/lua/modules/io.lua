-- The `io` module (spec runtime-modules.md §5): the terminal of a command. Works only in a
-- process on a terminal.host; elsewhere every function but `args` answers nil, err
-- (Unavailable, "no terminal context"), which the host decides. Text that is not UTF-8 travels
-- hex-encoded (binary strings cannot cross into Python otherwise).
local C, call = ...
local new_error = C.new_error
local type, select, concat, tostring, utf8len = type, select, table.concat, tostring, utf8.len
local mtype = math.type

local function err(kind, msg) return new_error(kind, msg, false) end
local host_op = false
local function op(...)
  if not host_op then host_op = call("host_op") end
  if not host_op then return nil, err("Unavailable", "no terminal context") end
  return host_op(...)
end

-- Lua's string conversion of strings and numbers; anything else writes as "" (as in Wippy).
local function text(v)
  local t = type(v)
  if t == "string" then return v end
  if t == "number" then
    if mtype(v) == "integer" then return tostring(v) end
    return string.format("%.14g", v)
  end
  return ""
end

local function out(stream, s)
  if utf8len(s) then return op("io.write", stream, s, false) end
  return op("io.write", stream, C.tohex(s), true)
end

local function joined(sep, ...)
  local n = select("#", ...)
  local parts = {}
  for i = 1, n do parts[i] = text((select(i, ...))) end
  return concat(parts, sep)
end

local M = {}
function M.write(...)
  local r, e = out("stdout", joined("", ...))
  if e then return nil, e end
  return true
end
function M.print(...)
  local r, e = out("stdout", joined("\t", ...) .. "\n")
  if e then return nil, e end
  return true
end
function M.eprint(...)
  local r, e = out("stderr", joined("\t", ...) .. "\n")
  if e then return nil, e end
  return true
end
function M.flush() return op("io.flush") end
function M.read(n)
  if n ~= nil and type(n) ~= "number" then return nil, err("Invalid", "read size must be a number") end
  return op("io.read", n or 0)
end
function M.readline() return op("io.readline") end
function M.raw(enable)
  if enable == nil then enable = true end
  return op("io.raw", enable == true)
end
function M.args()
  local a = op("io.args")
  if type(a) ~= "table" then return {} end
  return a
end
return M
