-- The seed's order: charge, then complete.
local funcs = require("funcs")

local function main(order)
  local payment, err = funcs.call("web:charge", order)
  if err then return nil, err end
  return {status = "completed", order = order.id, payment = payment.id}
end

return {main = main}
