-- An update-driven counter (spec workflows.md §7.6): each request is a message on topic
-- <operation> from a reply address; the answer is ack/nak, then ok/error. The same code serves
-- Temporal Updates, `duralua workflow update` and plain messages from a Lua process.
local workflow = require("workflow")

return function(start)
  local value = start or 0
  local inbox = process.inbox()
  workflow.set_query("state", {value = value})
  workflow.set_query("ops", 0)
  local ops = 0
  while true do
    local msg = inbox:receive()
    local payload = msg:payload()  -- nil for an update without arguments
    local op, from, arg = msg:topic(), msg:from(), payload and payload:data()
    ops = ops + 1
    workflow.set_query("ops", ops)
    if op == "increment" or op == "decrement" then
      if type(arg) ~= "number" then
        process.send(from, "nak", op .. " needs a number")
      else
        process.send(from, "ack")
        value = value + (op == "increment" and arg or -arg)
        workflow.set_query("state", {value = value})
        process.send(from, "ok", value)
      end
    elseif op == "get" then
      process.send(from, "ack")
      process.send(from, "ok", value)
    elseif op == "fail" then
      process.send(from, "ack")
      process.send(from, "error", "asked to fail at " .. value)
    elseif op == "misuse" then
      -- out-of-order replies are refused by both engines with the same message
      local _, err = process.send(from, "ok", value)
      process.send(from, "nak", err and err:message() or "ok before ack was accepted")
    elseif op == "finish" then
      process.send(from, "ack")
      process.send(from, "ok", value)
      return value
    else
      process.send(from, "nak", "unknown operation " .. op)
    end
  end
end
