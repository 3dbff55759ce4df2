local function retry(policy)
  local funcs = require("funcs")
  return funcs.new():with_options({["activity.retry_policy"] = policy}):call("vis:fails")
end

-- Retries for an hour: 1 s, 2 s, 4 s... between attempts.
local function retrying()
  return retry({initial_interval = "1s", backoff_coefficient = 2, maximum_interval = "1h"})
end

-- Two attempts, then the activity fails for good and so does the workflow.
local function gives_up()
  local _, err = retry({initial_interval = "100ms", maximum_attempts = 2})
  return nil, err
end

-- A Lua error in the workflow itself.
local function broken(order)
  return order.customer.name
end

-- Never yields: the run is held by the instruction budget.
local function runaway()
  while true do end
end

-- Waits on a timer while its child waits for a message; a message for it stays unread.
local function parent()
  local pid = process.spawn("vis:child", "", "hello")
  print("spawned child", pid)
  require("time").sleep("1h")
  return "done"
end

local function child(greeting)
  local msg = process.inbox():receive()
  return greeting .. " " .. tostring(msg:payload():data())
end

return {retrying = retrying, gives_up = gives_up, broken = broken, runaway = runaway, parent = parent, child = child}
