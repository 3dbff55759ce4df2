-- A timer, then three Python activities in sequence (bench/evicted.py registers bench:py_step).
local funcs = require("funcs")
local time = require("time")
return function(i)
  time.sleep("200ms")
  local a = funcs.call("bench:py_step", i)
  local b = funcs.call("bench:py_step", a)
  return funcs.call("bench:py_step", b)
end
