local funcs = require("funcs")

local function main(order)
local result, err = funcs.call("app:risky_activity", order)
if err then
-- Log and compensate
funcs.call("app:send_alert", {
error = tostring(err),
order_id = order.id
})
return {status = "failed", error = tostring(err)}
end
return {status = "completed", result = result}
end

return { main = main }
