-- A pending activity (its result arrives on @future/1), a pending timer (@timer/1) and a
-- "ping" listener: forged external events must not reach any of them.
local funcs = require("funcs")
local time = require("time")
return function(act_delay, timer_delay)
  local t0 = time.now()
  local f, err = funcs.async("faults:slow", act_delay, "real")
  if err then return nil, err end
  local timer = time.after(timer_delay)
  local ping = process.listen("ping")
  local got = f:response():receive()
  local ok, act = pcall(function() return got:data() end)
  if not ok then act = "not the activity's payload: " .. tostring(got) end
  local act_ms = time.now():sub(t0):seconds() * 1000
  timer:receive()
  local timer_ms = time.now():sub(t0):seconds() * 1000
  local p = ping:receive()
  return {act = act, act_ms = act_ms, timer_ms = timer_ms, ping = p}
end
