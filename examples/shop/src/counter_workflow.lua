-- An update-driven counter: `duralua workflow update counter-1 increment 5` answers 15.
-- Each update is a message on topic <name> from a reply address; the answer is ack (or nak),
-- then ok with the update's result. The `state` query reads the current value.
local workflow = require("workflow")

local function main(start)
  local value = start or 0
  workflow.set_query("state", {value = value})
  local inbox = process.inbox()
  while true do
    local msg = inbox:receive()
    local payload = msg:payload()            -- nil for an update without arguments
    local by = payload and payload:data()
    if msg:topic() == "increment" and type(by) == "number" then
      process.send(msg:from(), "ack")
      value = value + by
      workflow.set_query("state", {value = value})
      process.send(msg:from(), "ok", value)
    elseif msg:topic() == "finish" then
      process.send(msg:from(), "ack")
      process.send(msg:from(), "ok", value)
      return value
    else
      process.send(msg:from(), "nak", "increment needs a number; finish ends the counter")
    end
  end
end

return {main = main}
