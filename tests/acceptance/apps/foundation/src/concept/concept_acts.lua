-- The concept page's saga reads failures from a field of the value: `result.error`.
return {
  reserve = function(items) return {id = "inv_" .. tostring(#items)} end,
  charge = function(amount)
    if amount > 100 then return {error = "amount over limit"} end
    return {id = "pay_" .. tostring(amount)}
  end,
  create = function(order)
    if not order.address then return {error = "no address"} end
    return {id = "ship_" .. tostring(order.id)}
  end,
}
