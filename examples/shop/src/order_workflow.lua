-- The seed's order workflow, as written (charge, durable sleep, ship, refund on failure).
local funcs = require("funcs")
local time = require("time")

local function main(order)
  -- Call activity
  local payment, err = funcs.call("app:charge_payment", {
    amount = order.total,
    customer = order.customer_id
  })
  if err then
    return {status = "failed", error = tostring(err)}
  end

  -- Durable sleep (survives restarts)
  time.sleep("1h")

  -- Another activity
  local shipment, err = funcs.call("app:ship_order", {
    order_id = order.id,
    address = order.shipping_address
  })
  if err then
    funcs.call("app:refund_payment", payment.id)
    return {status = "failed", error = tostring(err)}
  end

  return {
    status = "completed",
    payment_id = payment.id,
    tracking = shipment.tracking_number
  }
end

return { main = main }
