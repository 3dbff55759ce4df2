-- Runs the seed workflows end to end, the way any caller (HTTP handler, script) would.
local function main()
  local out = {}

  -- 1. Order: charge, durable 1h sleep, ship.
  out.order = process.exec("app:order_workflow", "app:worker",
    {id = 1, total = 30, customer_id = "ada", shipping_address = "1 Main St"})

  -- 2. Saga: shipping fails, so the payment is refunded and the inventory released.
  out.saga = process.exec("app:saga_workflow", "app:worker",
    {items = {"lamp", "desk"}, payment = {amount = 20, customer = "bob"}, shipping = {order_id = 2, address = ""}})

  -- 3. Approval: start it, send the "approve" signal, wait for its EXIT event.
  local events = process.events()
  local pid, err = process.spawn_monitored("app:approval_workflow", "app:worker",
    {id = 3, total = 15, customer_id = "cy"})
  if err then return nil, err end
  process.send(pid, "approve", {approved_by = "manager"})
  local exit = events:receive()
  out.approval = exit.result.value

  return out
end

return {main = main}
