-- Disk-full load: every "item" message runs one activity (faults:note, a Python function of
-- the driver that records each execution) and a short timer; "stop" returns the items seen.
local funcs = require("funcs")
local time = require("time")
return function(name)
  local inbox = process.inbox()
  local items = {}
  while true do
    local msg = inbox:receive()
    if msg:topic() == "stop" then return {name = name, items = items} end
    local item = msg:payload():data()
    local v, err = funcs.call("faults:note", name .. "/" .. item)
    if err then return nil, err end
    items[#items + 1] = v
    time.sleep("5ms")
  end
end
