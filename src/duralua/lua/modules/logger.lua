-- The `logger` module (spec runtime-modules.md §3): `require("logger")` is a logger object;
-- its methods take `:`. Lines go to the app's log through the "logger.log" host op, with the
-- caller's PID and location added by the host. The module value is made by this chunk's
-- result (a factory), so each require gets its own object.
local C, call = ...
local new_error = C.new_error
local type, setmetatable, tostring, error, pairs, next = type, setmetatable, tostring, error, pairs, next
local mtype, concat = math.type, table.concat
local getinfo = debug and debug.getinfo
local classof = C.classof

local host_op = false
local function op(...)
  if not host_op then host_op = call("host_op") end
  if not host_op then return nil end
  return host_op(...)
end

local LoggerMT = C.class("logger.Logger", {})
local Logger = LoggerMT.__index
local state_of = setmetatable({}, { __mode = "k" })

local function logger(self, method)
  local s = type(self) == "table" and state_of[self]
  if not s then error("bad argument #1 to '" .. method .. "' (logger expected: call it as logger:" .. method .. "(...))", 3) end
  return s
end

-- A field value as plain data (the spec's conversion table); depth-limited, never raises.
local function plain(v, depth)
  local t = type(v)
  if t == "string" or t == "boolean" then return v end
  if t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then return tostring(v) end
    return v
  end
  if t == "nil" then return nil end
  if t == "function" then return tostring(v) end
  local cls = classof(v)
  if cls == "error" then return v:message() end
  if cls then
    local ok, text = pcall(tostring, v)
    return ok and text or nil
  end
  if t == "table" then
    if depth > 8 then return "(nested too deeply)" end
    local out, n = {}, 0
    for k, x in next, v do
      n = n + 1
      if n > 200 then break end
      if type(k) == "string" or mtype(k) == "integer" then out[k] = plain(x, depth + 1) end
    end
    return out
  end
  return tostring(v)
end

local function fields_of(t, into)
  if t == nil then return into end
  for k, v in pairs(t) do
    if type(k) == "string" then into[k] = plain(v, 0) end
  end
  return into
end

local function new_logger(name, fields)
  local l = setmetatable({}, LoggerMT)
  state_of[l] = { name = name, fields = fields }
  return l
end

local function emit(level, self, msg, fields)
  local s = logger(self, level)
  local mt = type(msg)
  if mt == "number" then msg = tostring(msg)
  elseif mt ~= "string" then error("bad argument #2 to '" .. level .. "' (string expected, got " .. mt .. ")", 3) end
  if fields ~= nil and type(fields) ~= "table" then
    error("bad argument #3 to '" .. level .. "' (table expected, got " .. type(fields) .. ")", 3)
  end
  local merged = {}
  for k, v in next, s.fields do merged[k] = v end
  fields_of(fields, merged)
  local line = 0
  if getinfo then
    local info = getinfo(3, "l")
    line = info and info.currentline or 0
  end
  op("logger.log", level, s.name, msg, merged, line)
end

function Logger:debug(msg, fields) emit("debug", self, msg, fields) end
function Logger:info(msg, fields) emit("info", self, msg, fields) end
function Logger:warn(msg, fields) emit("warn", self, msg, fields) end
function Logger:error(msg, fields) emit("error", self, msg, fields) end

function Logger:with(fields)
  local s = logger(self, "with")
  if type(fields) ~= "table" then error("bad argument #1 to 'with' (table expected, got " .. type(fields) .. ")", 2) end
  local merged = {}
  for k, v in next, s.fields do merged[k] = v end
  return new_logger(s.name, fields_of(fields, merged))
end

function Logger:named(name)
  local s = logger(self, "named")
  if type(name) ~= "string" then error("bad argument #1 to 'named' (string expected, got " .. type(name) .. ")", 2) end
  if name == "" then error("name cannot be empty", 2) end
  return new_logger(s.name == "" and name or concat({ s.name, name }, "."), s.fields)
end

LoggerMT.__tostring = function(self)
  local s = state_of[self]
  return "logger.Logger{" .. (s and s.name or "?") .. "}"
end

return function() return new_logger("", {}) end
