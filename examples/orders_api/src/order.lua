-- An order waits (durably) for approval, then charges. Cancelled after a day without it.
local funcs = require("funcs")
local time = require("time")

local function main(order)
  local inbox = process.inbox()
  local r = channel.select{inbox:case_receive(), time.after("24h"):case_receive()}
  if r.channel ~= inbox then return {status = "expired", order = order.id} end
  local approval = r.value:payload():data()
  local payment, err = funcs.call("orders:charge", order)
  if err then return nil, err end
  return {status = "approved", order = order.id, by = approval.by, payment = payment}
end

return {main = main}
