-- The seed's signal pattern: wait for "approve" or "cancel" on the inbox.
local funcs = require("funcs")

local function process_order(order, approval)
  local payment, err = funcs.call("app:charge_payment", {amount = order.total, customer = order.customer_id})
  if err then return {status = "failed", error = tostring(err)} end
  return {status = "approved", approved_by = approval.approved_by, payment_id = payment.id}
end

local function main(order)
  local inbox = process.inbox()
  local approval
  while true do
    local msg = inbox:receive()
    local topic = msg:topic()
    if topic == "approve" then
      approval = msg:payload():data()
      break
    elseif topic == "cancel" then
      local data = msg:payload():data()
      return {status = "cancelled", reason = data.reason}
    end
  end
  return process_order(order, approval)
end

return { main = main }
