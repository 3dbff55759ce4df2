-- Finishes in its first activation.
local function quick(x)
  return {echo = x}
end

-- Returns the payload of its first "go" message.
local function waiter()
  local msg = process.inbox():receive()
  return {topic = msg:topic(), payload = msg:payload():data()}
end

local function napper(d)
  require("time").sleep(d)
  return "rested"
end

-- Its activity fails for ever; the retry policy keeps it in backoff (1 s, then 2 s, ...).
local function retrying()
  local funcs = require("funcs")
  local policy = {initial_interval = "1s", backoff_coefficient = 2, maximum_interval = "1h"}
  return funcs.new():with_options({["activity.retry_policy"] = policy}):call("op:fails")
end

return {quick = quick, waiter = waiter, napper = napper, retrying = retrying}
