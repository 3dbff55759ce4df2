-- Starting a workflow from ordinary code: process.spawn(entry, worker, input).
local json = require("json")

local function handler(order)
  local pid, err = process.spawn("app:order_workflow", "app:worker", order)
  if err then
    return nil, err
  end
  return {workflow_id = tostring(pid), status = "started"}
end

return { handler = handler }
