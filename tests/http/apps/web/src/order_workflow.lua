-- The seed's order: charge, then (optionally) a durable wait, then complete.
local funcs = require("funcs")
local time = require("time")

local function main(order)
  local payment, err = funcs.call("web:charge", order)
  if err then return nil, err end
  if order.hold then time.sleep(order.hold) end
  return {status = "completed", order = order.id, payment = payment.id}
end

return {main = main}
