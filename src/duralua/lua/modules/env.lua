-- The `env` module (spec runtime-modules.md §4): variables declared in the registry
-- (env.variable entries over env.storage.* entries), answered by the host.
local C, call = ...
local new_error = C.new_error
local type, error = type, error

local function err(kind, msg) return new_error(kind, msg, false) end
local host_op = false
local function op(...)
  if not host_op then host_op = call("host_op") end
  if not host_op then return nil, err("Internal", "env needs a function or process call (no host here)") end
  return host_op(...)
end

local M = {}
function M.get(name)
  if type(name) ~= "string" then error("bad argument #1 to 'get' (string expected, got " .. type(name) .. ")", 2) end
  if name == "" then return nil, err("Invalid", "empty key") end
  return op("env.get", name)
end
function M.set(name, value)
  if type(name) ~= "string" then error("bad argument #1 to 'set' (string expected, got " .. type(name) .. ")", 2) end
  if type(value) ~= "string" then error("bad argument #2 to 'set' (string expected, got " .. type(value) .. ")", 2) end
  if name == "" then return nil, err("Invalid", "empty key") end
  return op("env.set", name, value)
end
function M.get_all() return op("env.get_all") end
return M
