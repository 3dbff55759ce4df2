-- Waits for one message and reports who sent it.
local funcs = require("funcs")
return function(label)
  local msg = process.inbox():receive()
  local done = funcs.call("t:step", label)
  return {topic = msg:topic(), from = msg:from(), data = msg:payload():data(), step = done}
end
