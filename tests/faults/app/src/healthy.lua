-- An ordinary workflow: one activity, one timer.
local funcs = require("funcs")
local time = require("time")
return function(i)
  local v, err = funcs.call("faults:double", i)
  if err then return nil, err end
  time.sleep("20ms")
  return {i = i, v = v}
end
