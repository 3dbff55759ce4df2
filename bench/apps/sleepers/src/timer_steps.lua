-- A timer of `ms` milliseconds (none when 0), then three Python activities in sequence
-- (bench/evicted.py registers bench:py_step).
local funcs = require("funcs")
local time = require("time")
return function(i, ms)
  if (ms or 200) > 0 then time.sleep(string.format("%dms", ms or 200)) end
  local a = funcs.call("bench:py_step", i)
  local b = funcs.call("bench:py_step", a)
  return funcs.call("bench:py_step", b)
end
