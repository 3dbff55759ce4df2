-- Workflows the UI and telemetry tests look at.
local function hello(name)
  local funcs = require("funcs")
  local time = require("time")
  local a = funcs.call("obs:greet", name)
  time.sleep("1s")
  local b = funcs.call("obs:greet", a)
  return {greeting = b}
end

local function approval(order)
  local funcs = require("funcs")
  local inbox = process.inbox()
  while true do
    local msg = inbox:receive()
    if msg:topic() == "approve" then
      local data = msg:payload():data()
      local who = funcs.call("obs:greet", data.by)
      return {status = "approved", by = data.by, note = who, order = order}
    elseif msg:topic() == "reject" then
      return nil, errors.new{message = "rejected", kind = errors.INVALID, retryable = false}
    end
  end
end

local function parent(name)
  local workflow = require("workflow")
  local r = workflow.exec("obs:hello", name)
  return {child = r}
end

local function retrying(n)
  local funcs = require("funcs")
  local slow = funcs.new():with_options({["activity.retry_policy"] = {initial_interval = "1h", maximum_attempts = 5}})
  return slow:call("obs:flaky", n)
end

local function runaway() while true do end end

return {hello = hello, approval = approval, parent = parent, retrying = retrying, runaway = runaway}
