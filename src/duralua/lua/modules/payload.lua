-- Payload class (spec lua-modules.md §13). Executed once per Lua state.
-- A payload is { _f = format, _v = value }: for json/lua/golang formats `_v` is the decoded Lua
-- value, for text/bytes a string, for golang/error an error object.
local C, py = ...
local setmetatable, type, tostring = setmetatable, type, tostring
local classof = C.classof

local FORMAT = {
  JSON = "json/plain", YAML = "yaml/plain", STRING = "text/plain", BYTES = "application/octet-stream",
  MSGPACK = "application/msgpack", LUA = "lua/any", GOLANG = "golang/any", ERROR = "golang/error",
}
local VALUE_FORMATS = { ["json/plain"] = true, ["lua/any"] = true, ["golang/any"] = true }
local TEXT_FORMATS = { ["text/plain"] = true, ["application/octet-stream"] = true }
local KNOWN = {}
for _, f in pairs(FORMAT) do KNOWN[f] = true end

local P = {}
local PayloadMT = C.class("payload.Payload", P)

local function new(fmt, v) return setmetatable({ _f = fmt, _v = v }, PayloadMT) end

local function check(p, name)
  if classof(p) ~= "payload.Payload" then error("payload:" .. name .. ": not a payload (use p:" .. name .. "())", 3) end
end

function P.data(p)
  check(p, "data")
  return p._v, nil
end

function P.get_format(p)
  check(p, "get_format")
  return p._f
end

function P.unmarshal(p)
  check(p, "unmarshal")
  if TEXT_FORMATS[p._f] then return py.decode(p._v) end
  return p._v, nil
end

function P.transcode(p, fmt)
  check(p, "transcode")
  if type(fmt) ~= "string" then error("payload:transcode: format string expected", 2) end
  if not KNOWN[fmt] then return nil, py.error("Invalid", "unknown payload format " .. fmt) end
  local from, v = p._f, p._v
  if fmt == from then return new(fmt, v), nil end
  if from == "golang/error" then
    if TEXT_FORMATS[fmt] then return new(fmt, tostring(v)), nil end
    return nil, py.error("Invalid", "cannot transcode an error payload to " .. fmt)
  end
  if fmt == "json/plain" then
    local out, err
    if TEXT_FORMATS[from] then out, err = py.decode(v) else out, err = py.roundtrip(v) end
    if err ~= nil then return nil, err end
    return new(fmt, out), nil
  end
  if TEXT_FORMATS[fmt] then
    if type(v) == "string" then return new(fmt, v), nil end
    local s, err = py.encode(v)
    if err ~= nil then return nil, err end
    return new(fmt, s), nil
  end
  if VALUE_FORMATS[fmt] then return new(fmt, v), nil end
  return nil, py.error("Internal", "payload format " .. fmt .. " is not supported by duralua")
end

PayloadMT.__tostring = function(p) return "payload{" .. p._f .. "}" end

local M = { format = FORMAT }
function M.new(v)
  if classof(v) == "error" then return new("golang/error", v) end
  return new("lua/any", v)
end

return { M = M, new = new }
