-- Two activities with a signal in between (the non-determinism tests reorder the calls).
local funcs = require("funcs")
return function()
  local a = funcs.call("t:first", "a")
  local msg = process.inbox():receive()
  local b = funcs.call("t:second", "b")
  return {a, msg:topic(), b}
end
