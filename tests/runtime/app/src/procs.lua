-- Processes of the runtime tests (one entry per function, see _index.yaml).
local M = {}

-- Replies to every message with its payload prefixed; "stop" ends it.
function M.echo(prefix)
  local inbox = process.inbox()
  while true do
    local msg = inbox:receive()
    if msg:topic() == "stop" then return {stopped = true} end
    local p = msg:payload()
    process.send(msg:from(), "echo", (prefix or "") .. tostring(p and p:data()))
  end
end

-- Keeps a counter across messages; "get" answers the state, "stop" ends with the total.
function M.session()
  local count, total = 0, 0
  local inbox = process.inbox()
  while true do
    local msg = inbox:receive()
    local topic = msg:topic()
    if topic == "add" then
      count = count + 1
      total = total + msg:payload():data()
    elseif topic == "get" then
      process.send(msg:from(), "state", {count = count, total = total})
    elseif topic == "stop" then
      return total
    end
  end
end

-- Registers `name` and collects reports; "get" answers them.
function M.reporter(name)
  local ok, err = process.registry.register(name)
  if not ok then return nil, err end
  local reports = {}
  local inbox = process.inbox()
  while true do
    local msg = inbox:receive()
    if msg:topic() == "report" then
      table.insert(reports, (msg:payload():data()))
    elseif msg:topic() == "get" then
      process.send(msg:from(), "reports", reports)
    end
  end
end

-- A background job: monitors a workflow, waits for its EXIT and reports to a process by name.
function M.job(wf_pid, reporter)
  local ok, err = process.monitor(wf_pid)
  if not ok then return nil, err end
  local ev = process.events():receive()
  local r = ev.result or {}
  process.send(reporter, "report", {from = ev.from, kind = ev.kind, value = r.value,
                                    error = r.error and tostring(r.error)})
  return "reported"
end

function M.crasher(delay)
  if delay then require("time").sleep(delay) end
  error("crash on purpose")
end

function M.returns_err() return nil, "gave up" end

-- Links to `target` (trapping or not) and tells `parent` what it saw.
function M.linker(target, trap, parent)
  if trap then process.set_options({trap_links = true}) end
  local ok, err = process.link(target)
  if not ok then return nil, err end
  process.send(parent, "linked", true)
  local ev = process.events():receive()
  process.send(parent, "event", {kind = ev.kind, from = ev.from,
                                 error = ev.result and ev.result.error and tostring(ev.result.error)})
  return "trapped"
end

-- Waits for messages for ever; a CANCEL ends it (and is reported to `parent`).
function M.waiter(parent)
  local events, inbox = process.events(), process.inbox()
  while true do
    local r = channel.select({events:case_receive(), inbox:case_receive()})
    if r.channel == events and r.value.kind == process.event.CANCEL then
      if parent then process.send(parent, "cancelled", r.value.reason) end
      return "cancelled: " .. tostring(r.value.reason)
    end
  end
end

-- Sleeps and never reads its inbox.
function M.sleeper(d)
  require("time").sleep(d or "1h")
  return "woke"
end

-- main returns while other coroutines are blocked: the process ends anyway.
function M.coro_exit()
  local time = require("time")
  coroutine.spawn(function() time.sleep("1h") end)
  local ch = channel.new()
  coroutine.spawn(function() ch:receive() end)
  return "main done"
end

-- What arrives: "type:value" of each payload of each message (math.type for numbers),
-- answered to the sender; "stop" ends it.
local function kind(v)
  if type(v) == "number" then return math.type(v) .. ":" .. tostring(v) end
  if type(v) == "table" then return "table:" .. kind(v[1]) end
  return type(v) .. ":" .. tostring(v)
end
function M.kinds()
  local inbox = process.inbox()
  while true do
    local msg = inbox:receive()
    if msg:topic() == "stop" then return true end
    local p = msg:payload()
    local got = {}
    for i, x in ipairs(type(p) == "table" and p or {p}) do
      got[i] = kind(x:data())
    end
    process.send(msg:from(), "kinds", got)
  end
end

-- Its arguments as kind() describes them.
function M.kinds_args(...)
  local got = {}
  for i = 1, select("#", ...) do got[i] = kind((select(i, ...))) end
  return got
end

return M
