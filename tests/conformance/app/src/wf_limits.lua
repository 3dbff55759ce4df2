-- Starts n activities at once and waits for all: how long that took tells the worker's limits.
local funcs = require("funcs")
local time = require("time")
return function(activity, n, arg)
  local t0 = time.now()
  local futures = {}
  for i = 1, n do futures[i] = funcs.async(activity, arg) end
  for i = 1, n do
    futures[i]:response():receive()
    local _, err = futures[i]:result()
    if err then return nil, err end
  end
  return {elapsed_ms = time.now():sub(t0):milliseconds()}
end
