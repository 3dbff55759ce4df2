-- Waits for one message and reports who sent it. The activity is a future on purpose: its
-- result arrives on the internal topic @future/N, which no signal may forge.
local funcs = require("funcs")
return function(label)
  local msg = process.inbox():receive()
  local done = funcs.async("t:step", label):response():receive()
  return {topic = msg:topic(), from = msg:from(), data = msg:payload():data(), step = done:data()}
end
