-- Activities and timers in flight for a while: a second engine on the same database would
-- run them again (each activity execution prints "EXEC <id>:<step>").
local funcs = require("funcs")
local time = require("time")
return function(id, steps, pause)
  for s = 1, steps do
    local _, err = funcs.call("faults:marked", id .. ":" .. s)
    if err then return nil, err end
    time.sleep(pause)
  end
  return {id = id, steps = steps}
end
