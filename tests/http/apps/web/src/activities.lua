local function charge(order)
  return {id = "ch-" .. tostring(order.id), amount = order.total}
end

return {charge = charge}
