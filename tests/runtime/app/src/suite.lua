-- The process model's checks as Lua tests (`duralua test tests/runtime/app`, both engines).
local funcs = require("funcs")

local function scenario(name, ...)
  local res, err = funcs.call("rt:drive", name, ...)
  if err then error(name .. ": " .. tostring(err), 2) end
  return res
end

local function eq(a, b, what)
  if a ~= b then error(what .. ": expected " .. tostring(b) .. ", got " .. tostring(a), 2) end
end

local T = {}

function T.echo()
  local r = scenario("echo")
  eq(r.reply, "hello ada", "reply")
  eq(r.exit.value.stopped, true, "exit value")
end

function T.session()
  local r = scenario("session", 1000)
  eq(r.count, 1000, "count")
  eq(r.total, 500500, "total")
end

function T.links()
  local plain = scenario("link", false)
  eq(plain.exit.error, "linked process failed", "untrapped exit")
  local trapped = scenario("link", true)
  eq(trapped.seen.kind, "pid.link.down", "trapped event")
  eq(trapped.exit.value, "trapped", "trapped exit")
  local _, err = funcs.call("rt:drive", "linked_caller")
  eq(err and err:message(), "linked process failed", "linked caller")
end

function T.names_and_errors()
  local n = scenario("names")
  eq(n.died_with_owner, "NotFound: name not registered", "names die with their owner")
  local e = scenario("errors")
  eq(e.limit, "LimitExceeded: max processes limit exceeded", "max_processes")
  eq(e.parked, "Unavailable: host is not running: rt:parked", "stopped host")
end

function T.workflows(t)
  local r = scenario("workflow_roundtrip", "rt:worker")
  eq(r.from_ok, true, "ping from the workflow")
  eq(r.exit.value.pong.answer, 42, "workflow result")
  local job = scenario("background_job", "rt:worker")
  eq(job.reports[1].value.value, "done", "background job report")
end

return T
