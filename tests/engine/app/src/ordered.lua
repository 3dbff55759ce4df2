local funcs = require("funcs")
local time = require("time")
return function()
  local a = funcs.call("eng:first", "a")
  time.sleep("1h")
  local b = funcs.call("eng:second", "b")
  return a .. b
end
