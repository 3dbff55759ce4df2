local time = require("time")
return function()
  local t0 = time.now()
  time.sleep("2s")
  local slept = time.now():sub(t0):seconds()
  -- time.after in a select against a longer timer
  local fast = time.after("1s")
  local slow = time.after("30s")
  local r = channel.select{slow:case_receive(), fast:case_receive()}
  local first = (r.channel == fast) and "fast" or "slow"
  -- a stopped timer never fires
  local t = time.timer("500ms")
  local stopped = t:stop()
  local r2 = channel.select{t:response():case_receive(), time.after("1s"):case_receive()}
  local timer_fired = r2.channel == t:response()
  -- a ticker ticks
  local tk = time.ticker("300ms")
  local ticks = 0
  for _ = 1, 3 do tk:response():receive() ticks = ticks + 1 end
  tk:stop()
  return {slept_at_least_2s = slept >= 2, first = first, stopped = stopped, timer_fired = timer_fired,
          ticks = ticks, zero = time.sleep(0) ~= false}
end
