-- POST /start {"i": n}: durably start the three-step workflow, answer 202 with its PID.
local http = require("http")

local function handler()
  local req, res = http.request(), http.response()
  local body, err = req:body_json()
  if err then
    res:set_status(400)
    return res:write_json{error = tostring(err)}
  end
  local pid, serr = process.spawn("bench:three_steps", "bench:worker", {i = body.i})
  if serr then
    res:set_status(500)
    return res:write_json{error = tostring(serr)}
  end
  res:set_status(202)
  return res:write_json{pid = pid}
end

return {handler = handler}
