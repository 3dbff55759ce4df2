-- The activity: where a real app would call its payment API (http_client, docs/http.md).
local function charge(order)
  return "ch-" .. order.id .. "-" .. order.total
end

return {charge = charge}
