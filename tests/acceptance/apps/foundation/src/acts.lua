-- Activities for the seed snippets: plain functions following the (value, err) convention.

local function risky_activity(order)
  if order.fail then
    return nil, errors.new{message = "risky step failed for " .. tostring(order.id), kind = errors.UNAVAILABLE,
                           retryable = true}
  end
  return {done = order.id}
end

local function reserve_inventory(items)
  return {id = "res_" .. tostring(#items)}
end

local function release_inventory(id)
  return {released = id}
end

local function charge_payment(p)
  if p.customer == "declined" then
    return nil, errors.new{message = "card declined", kind = errors.INVALID, retryable = false}
  end
  return {id = "pay_" .. p.customer .. "_" .. tostring(p.amount)}
end

local function refund_payment(id)
  return {refunded = id}
end

local function ship_order(s)
  if s.address == nil or s.address == "" then
    return nil, errors.new{message = "no shipping address", kind = errors.INVALID, retryable = false}
  end
  return {tracking = "TRK-" .. tostring(s.order_id)}
end

return {
  risky_activity = risky_activity,
  reserve_inventory = reserve_inventory,
  release_inventory = release_inventory,
  charge_payment = charge_payment,
  refund_payment = refund_payment,
  ship_order = ship_order,
}
