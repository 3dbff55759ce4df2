-- The `events` module (spec runtime-modules.md §2): best-effort publish/subscribe between the
-- calls and processes of one runtime. A subscription is a mailbox topic of its owner (host op
-- "events.subscribe"); the driver turns it into a channel of event tables (buffer 64).
local C, call = ...
local new_error = C.new_error
local type, setmetatable, select = type, setmetatable, select

local function err(kind, msg) return new_error(kind, msg, false) end
local host_op, topic_channel, drop_topic = false, false, false
local function op(...)
  if not host_op then host_op = call("host_op") end
  if not host_op then return nil, err("Internal", "events needs a function or process call (no host here)") end
  return host_op(...)
end

local SubMT, Sub = C.class("events.Subscription", {}), nil
Sub = SubMT.__index
local sub_of = setmetatable({}, { __mode = "k" })
local function subscription(self)
  local s = sub_of[self]
  if not s then error("not a subscription (use sub:method())", 3) end
  return s
end

local M = {}
function M.subscribe(system, kind)
  if type(system) ~= "string" or system == "" then return nil, err("Invalid", "system pattern is required") end
  if kind ~= nil and type(kind) ~= "string" then return nil, err("Invalid", "kind must be a string") end
  local topic, e = op("events.subscribe", system, kind or "")
  if topic == nil then return nil, e end
  if not topic_channel then topic_channel, drop_topic = call("topic_channel"), call("drop_topic") end
  local s = setmetatable({}, SubMT)
  sub_of[s] = { topic = topic, ch = topic_channel(topic, 64), closed = false }
  return s
end

function Sub:channel() return subscription(self).ch end
function Sub:close()
  local s = subscription(self)
  if not s.closed then
    s.closed = true
    drop_topic(s.topic, s.ch)
    op("events.unsubscribe", s.topic)
  end
  return true
end
SubMT.__tostring = function(self)
  local s = sub_of[self]
  return "events.Subscription{" .. (s and s.topic or "?") .. "}"
end

function M.send(system, kind, path, ...)
  if type(system) ~= "string" or system == "" then return nil, err("Invalid", "system is required") end
  if type(kind) ~= "string" or kind == "" then return nil, err("Invalid", "kind is required") end
  if type(path) ~= "string" or path == "" then return nil, err("Invalid", "path is required") end
  local has = select("#", ...) > 0 and (...) ~= nil
  return op("events.send", system, kind, path, (...), has)
end

return M
