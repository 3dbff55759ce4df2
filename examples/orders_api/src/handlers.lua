-- HTTP handlers: each request calls one of these with no arguments (docs/http.md).
local http = require("http")
local time = require("time")

-- The workflow of an order: its id is derived from the order id, so a PID is not needed.
local function pid_of(id)
  return "{orders:temporal_client@orders:worker|order-" .. id .. "}"
end

-- POST /api/orders {"id": ..., "total": ...}: start the order's workflow (spec processes.md §7).
local function create()
  local req, res = http.request(), http.response()
  local body, jerr = req:body_json()
  if jerr then res:set_status(400) return res:write_json{error = tostring(jerr)} end
  local pid, err = process.with_context({request_id = req:header("X-Request-ID")})
    :with_options{["workflow.id"] = "order-" .. body.id, ["workflow.id_conflict_policy"] = "fail"}
    :spawn("orders:order", "orders:worker", body)
  if err then res:set_status(409) return res:write_json{error = tostring(err)} end
  res:set_status(202)
  res:write_json{workflow = pid}
end

-- POST /api/orders/{id}/approve: send the workflow its "approve" message.
local function approve()
  local req, res = http.request(), http.response()
  local _, err = process.send(pid_of(req:param("id")), "approve", {by = req:header("X-User") or "anonymous"})
  if err then res:set_status(404) return res:write_json{error = tostring(err)} end
  return res:write_json{approved = true}
end

-- GET /api/orders/{id}?wait=5s: the result once the workflow is done, else 202 "running"
-- (an unknown id reads as running too: monitoring cannot tell them apart).
local function status()
  local req, res = http.request(), http.response()
  local events = process.events()
  local _, err = process.monitor(pid_of(req:param("id")))
  if err then res:set_status(404) return res:write_json{error = tostring(err)} end
  local r = channel.select{events:case_receive(), time.after(req:query("wait") or "10ms"):case_receive()}
  if r.channel ~= events then
    res:set_status(202)
    return res:write_json{status = "running"}
  end
  local result = r.value.result
  if result.error then return res:write_json{status = "failed", error = tostring(result.error)} end
  return res:write_json{status = "done", result = result.value}
end

return {create = create, approve = approve, status = status}
