-- Activities: ordinary functions. They may do I/O; they run at least once.

local function charge_payment(p)
  if p.amount == nil or p.amount <= 0 then
    return nil, errors.new{message = "amount must be positive", kind = errors.INVALID, retryable = false}
  end
  if p.customer == "declined" then
    return nil, errors.new{message = "card declined", kind = errors.INVALID, retryable = false}
  end
  return {id = "pay_" .. p.customer .. "_" .. tostring(p.amount), amount = p.amount}
end

local function ship_order(s)
  if s.address == nil or s.address == "" then
    return nil, errors.new{message = "no shipping address", kind = errors.INVALID, retryable = false}
  end
  local tracking = "TRK-" .. tostring(s.order_id)
  return {tracking_number = tracking, tracking = tracking}
end

local function refund_payment(payment_id)
  return {refunded = payment_id}
end

local function reserve_inventory(items)
  return {id = "res_" .. tostring(#items)}
end

local function release_inventory(id)
  return {released = id}
end

local function send_alert(a)
  print("ALERT", a.order_id, a.error)
  return true
end

return {
  charge_payment = charge_payment,
  ship_order = ship_order,
  refund_payment = refund_payment,
  reserve_inventory = reserve_inventory,
  release_inventory = release_inventory,
  send_alert = send_alert,
}
