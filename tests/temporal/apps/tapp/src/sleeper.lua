local funcs = require("funcs")
local time = require("time")
return function(n, seconds)
  time.sleep(seconds)
  return {n = n, step = funcs.call("t:step", n)}
end
