-- The seed's workflow.attrs call, as written there: on Temporal its attributes are registered
-- (dev server) instead of the upsert failing.
local workflow = require("workflow")
return function(order)
  local ok, err = workflow.attrs({
    search = {
      status = "processing",
      customer_id = order.customer_id,
      order_total = order.total
    },
    memo = {
      notes = "Priority customer",
      source = "web"
    }
  })
  return {ok = ok, err = err and err:message()}
end
