local http, json = require("http"), require("json")

-- processes.md §7, as written: a workflow per order id, conflict policy "fail" -> 409.
local function create_order()
  local req, res = http.request(), http.response()
  local body, jerr = req:body_json()
  if jerr then res:set_status(400) return res:write_json{error = tostring(jerr)} end
  local pid, err = process.with_context({request_id = req:header("X-Request-ID")})
    :with_options{["workflow.id"] = "order-" .. body.id, ["workflow.id_conflict_policy"] = "fail"}
    :spawn("web:order_workflow", "web:worker", body)
  if err then res:set_status(409) return res:write_json{error = tostring(err)} end
  res:set_status(202)
  res:write_json{workflow = pid}
end

-- The seed document's handler, as written (chained response style).
local function seed_order()
  local req = http.request()
  local order = json.decode(req:body())
  local pid, err = process.spawn("web:order_workflow", "web:worker", order)
  if err then
    return http.response():status(500):json({error = tostring(err)})
  end
  return http.response():json({workflow_id = tostring(pid), status = "started"})
end

local function approval_pid(id)
  return "approval-" .. id
end

local function start_approval()
  local req, res = http.request(), http.response()
  local order, jerr = req:body_json()
  if jerr then res:set_status(400) return res:write_json{error = tostring(jerr)} end
  local pid, err = process.with_options{["workflow.id"] = approval_pid(order.id),
                                        ["workflow.id_conflict_policy"] = "fail"}
    :spawn("web:approval_workflow", "web:worker", order)
  if err then res:set_status(409) return res:write_json{error = tostring(err)} end
  res:set_status(202)
  return res:write_json{workflow = pid}
end

local function approve()
  local req, res = http.request(), http.response()
  local pid = req:query("pid")
  if not pid then res:set_status(400) return res:write_json{error = "pid query parameter required"} end
  local by = req:header("X-User") or "anonymous"
  local ok, err = process.send(pid, "approve", {by = by, id = req:param("id")})
  if err then res:set_status(404) return res:write_json{error = tostring(err)} end
  return res:write_json{sent = ok}
end

-- Waits up to ?wait= for the workflow's EXIT (process.monitor), else answers 202 running.
local function approval_status()
  local time = require("time")
  local req, res = http.request(), http.response()
  local pid = req:query("pid")
  if not pid then res:set_status(400) return res:write_json{error = "pid query parameter required"} end
  local events = process.events()
  local _, err = process.monitor(pid)
  if err then res:set_status(404) return res:write_json{error = tostring(err)} end
  local timeout = time.after(req:query("wait") or "2s")
  local r = channel.select{events:case_receive(), timeout:case_receive()}
  if r.channel ~= events then
    res:set_status(202)
    return res:write_json{status = "running"}
  end
  local result = r.value.result
  if result.error then return res:write_json{status = "failed", error = tostring(result.error)} end
  return res:write_json{status = "done", result = result.value}
end

-- Everything the request object tells, as JSON.
local function echo()
  local req, res = http.request(), http.response()
  local body = req:body()
  res:set_header("X-Echo", "yes")
  return res:write_json{
    method = req:method(), path = req:path(), host = req:host(), remote_addr = req:remote_addr(),
    content_type = req:content_type(), content_length = req:content_length(),
    query_a = req:query("a"), query_params = req:query_params(), header = req:header("x-custom"),
    param_name = req:param("name"), param_rest = req:param("rest"), params = req:params(),
    body = body, body_len = #body, has_body = req:has_body(),
    accepts_json = req:accepts("application/json"), is_json = req:is_content_type("application/json"),
    pid = process.pid(),
  }
end

-- Server-sent events: three events, one per flush, with sleeps between.
local function stream()
  local time = require("time")
  local res = http.response()
  res:set_transfer(http.TRANSFER.SSE)
  for i = 1, 3 do
    res:write_event{name = "tick", data = {n = i}, id = tostring(i)}
    time.sleep("20ms")
  end
end

return {
  create_order = create_order, seed_order = seed_order, start_approval = start_approval,
  approve = approve, approval_status = approval_status, echo = echo, stream = stream,
}
