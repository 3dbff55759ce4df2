-- A runtime error two frames deep.
local function customer_name(order)
  return order.customer.name
end

local function main(order)
  return {name = customer_name(order)}
end

return {main = main}
