-- GET /fault/{case}: one handler outcome per case (processes.md §7).
local http = require("http")
local time = require("time")

local cases = {}

function cases.raise() error("boom in handler") end
function cases.nil_err() return nil, errors.new{message = "refused by handler", kind = errors.INVALID} end
function cases.nothing() end
function cases.table() return {a = 1} end
function cases.string() return '{"raw":true}' end
function cases.loop() local n = 0 while true do n = n + 1 end end
function cases.slow() time.sleep("3s") http.response():write("late") end
function cases.written_then_raise()
  local res = http.response()
  res:set_status(201)
  res:write("partial")
  error("after write")
end
function cases.bad_status() return http.response():status(999) end
function cases.nested()
  -- A function the handler calls sees no HTTP context.
  local funcs = require("funcs")
  local v, err = funcs.call("web:nested")
  return http.response():json{nested = v, err = err and tostring(err)}
end
function cases.json()
  local body, err = http.request():body_json()
  local res = http.response()
  if err then res:set_status(400) return res:write_json{error = tostring(err), kind = err:kind()} end
  return res:write_json{got = body}
end
function cases.mirror()
  local req, res = http.request(), http.response()
  res:set_content_type(req:content_type() or "application/octet-stream")
  return res:write(req:body())
end
-- Reads its request before and after a yield: concurrent requests must not see each other's.
function cases.interleave()
  local req = http.request()
  local before = req:query("tag")
  time.sleep("10ms")
  local res = http.response()
  res:set_header("X-Tag", req:header("x-tag") or "")
  return res:write_json{before = before, after = http.request():query("tag"), pid = process.pid()}
end
function cases.nap()
  time.sleep("300ms")
  return http.response():json{napped = true}
end
-- Streams until the client leaves (the next write then returns an error).
function cases.forever()
  local res = http.response()
  res:set_transfer(http.TRANSFER.SSE)
  local n = 0
  while true do
    n = n + 1
    if res:write_event{data = tostring(n)} then return end
    time.sleep("20ms")
  end
end
function cases.binary()
  local res = http.response()
  res:set_content_type("application/octet-stream")
  return res:write("\0\1\2\255\254")
end

local function handler()
  local req = http.request()
  local case = cases[req:param("case")]
  if not case then
    local res = http.response()
    res:set_status(http.STATUS.NOT_FOUND)
    return res:write_json{error = "no such case"}
  end
  return case()
end

local function nested()
  local req, err = http.request()
  return {has_request = req ~= nil, error = err and tostring(err)}
end

return {handler = handler, nested = nested}
