-- The runtime modules from a process and from a function.
local registry = require("registry")
local events = require("events")
local logger = require("logger")
local env = require("env")
local security = require("security")
local io = require("io")
local time = require("time")

local function kinds(err) return err and (err:kind() .. ": " .. err:message()) end

-- A process that subscribes to events and forwards what it gets to `parent`.
local function main(parent)
  local sub = events.subscribe("orders.*", "order.placed")
  process.send(parent, "subscribed", true)
  local evt = sub:channel():receive()
  sub:close()
  local _, closed = sub:channel():receive()
  process.send(parent, "event", {evt = evt, closed_ok = closed})
  return "done"
end

local function drive()
  local out = {}
  -- registry
  local e = registry.get("rt:echo")
  out.get = {id = e.id, kind = e.kind, method = e.data.method, has_source = type(e.data.source) == "string"}
  local _, gerr = registry.get("rt:none")
  out.get_missing = kinds(gerr)
  local procs = registry.find({[".kind"] = "process.lua", [".name"] = "s*"})
  local names = {}
  for _, x in ipairs(procs) do names[#names + 1] = x.id end
  table.sort(names)
  out.find = names
  out.find_hosts = #registry.find({[".kind"] = "process.host"})
  out.find_ignored = #registry.find({kind = "process.lua"}) == #registry.find({})
  out.raises = not pcall(registry.find, "x")
  out.parse = registry.parse_id("a.b:c")
  local snap = registry.snapshot()
  out.snapshot = {text = tostring(snap), version = snap:version():id(), ns = #snap:namespace("rt") > 10}
  local _, aerr = snap:changes():create({id = "rt:new", kind = "registry.entry"}):apply()
  out.apply = kinds(aerr)
  local _, verr = registry.snapshot_at(0)
  out.snapshot_at0 = kinds(verr)
  -- env
  out.env = {greeting = env.get("GREETING"), empty = env.get("EMPTY"), by_id = env.get("rt:greeting")}
  local _, nerr = env.get("NOPE")
  out.env_missing = kinds(nerr)
  local _, eerr = env.get("")
  out.env_empty = kinds(eerr)
  out.env_set = env.set("COUNTER", "7")
  out.env_after = env.get("COUNTER")
  local _, rerr = env.set("LOCKED", "x")
  out.env_readonly = kinds(rerr)
  out.env_all_has = env.get_all().GREETING
  -- logger
  logger:info("order placed", {order = 7, ok = true})
  logger:named("billing"):with({region = "eu"}):warn("slow", {ms = 1200})
  logger:debug("hidden by the level")
  out.dot_call_raises = not pcall(logger.info, "x")
  out.empty_name_raises = select(2, pcall(logger.named, logger, ""))
  -- security
  out.no_actor = security.actor() == nil
  local actor = security.new_actor("user:1", {role = "admin"})
  out.actor = {id = actor:id(), role = actor:meta().role}
  out.nil_actor = select(2, pcall(function() return process.with_options({}):with_actor(nil) end))
  out.can = security.can("read", "x")
  -- io outside a terminal
  local _, ierr = io.print("hello")
  out.io = {err = kinds(ierr), args = #io.args()}
  -- events: a process subscribes, this call publishes
  local pid = process.spawn_monitored("rt:modules_user", "rt:procs", process.pid())
  local inbox = process.inbox()
  local first = channel.select({inbox:case_receive(), process.events():case_receive()})
  if first.channel ~= inbox then return nil, "the subscriber ended: " .. tostring(first.value.result.error) end
  out.send = events.send("orders.eu", "order.placed", "/orders/7", {total = 30})
  events.send("other", "order.placed", "/x")
  local msg = inbox:receive()
  out.event = msg:payload():data()
  local _, serr = events.send("", "k", "/p")
  out.send_bad = kinds(serr)
  local _, sberr = events.subscribe("")
  out.subscribe_bad = kinds(sberr)
  return out
end

return {main = main, drive = drive}
