-- Waits for "approve" (or "reject") on its inbox, then charges.
local funcs = require("funcs")

local function main(order)
  local msg = process.inbox():receive()
  local data = msg:payload():data()
  if msg:topic() ~= "approve" then
    return {status = "rejected", by = data.by}
  end
  local payment, err = funcs.call("web:charge", order)
  if err then return nil, err end
  return {status = "approved", by = data.by, payment = payment.id}
end

return {main = main}
