-- The `http_client` module (spec runtime-modules.md §6). Executed once per Lua state.
-- Requests are host ops ("http_client.request"/"http_client.batch") answered on the host's
-- event loop, so a waiting request blocks only its own coroutine. Arguments are checked and
-- copied here (only string headers/query/form/cookie values, as Wippy does); a body that is
-- not valid UTF-8 travels hex-encoded (binary strings cannot cross into Python otherwise).
local C, call, encode_uri, refused = ...
local new_error = C.new_error
local py = { error = function(kind, msg) return new_error(kind, msg, false) end }
local type, pairs, ipairs, error, tostring, upper, utf8len = type, pairs, ipairs, error, tostring, string.upper, utf8.len

local host_op = false  -- the driver's, looked up on first use (it is built after this module)
local function op(...)
  if not host_op then host_op = call("host_op") end
  if not host_op then return nil, py.error("Internal", "http_client needs a function or process call (no host here)") end
  return host_op(...)
end

local function strings(t)
  if type(t) ~= "table" then return nil end
  local out, any = {}, false
  for k, v in pairs(t) do
    if type(k) == "string" and type(v) == "string" then out[k] = v any = true end
  end
  return any and out or nil
end

local function bytes_field(out, key, v)
  if type(v) ~= "string" then return end
  if utf8len(v) then out[key] = v else out[key .. "_hex"] = C.tohex(v) end
end

local function copy_options(o)
  if o == nil then return {} end
  local out = {
    headers = strings(o.headers), query = strings(o.query), form = strings(o.form),
    cookies = strings(o.cookies), max_response_body = type(o.max_response_body) == "number" and o.max_response_body or nil,
    fail_on_status = o.fail_on_status == true or nil,
  }
  bytes_field(out, "body", o.body)
  local t = o.timeout
  if type(t) == "number" or type(t) == "string" then out.timeout = t end
  if type(o.auth) == "table" and type(o.auth.user) == "string" then
    out.auth = { user = o.auth.user, pass = type(o.auth.pass) == "string" and o.auth.pass or "" }
  end
  if type(o.files) == "table" then
    local files = {}
    for _, f in ipairs(o.files) do
      if type(f) == "table" and type(f.name) == "string" and type(f.content) == "string" then
        local e = { name = f.name, filename = type(f.filename) == "string" and f.filename or f.name }
        bytes_field(e, "content", f.content)
        files[#files + 1] = e
      end
    end
    if #files > 0 then out.files = files end
  end
  for _, k in ipairs({ "stream", "unix_socket", "tls", "overlay_network" }) do
    if o[k] ~= nil then out.unsupported = k end
  end
  return out
end

-- The message of a programming error in the arguments (raised at the caller), or nil.
local function bad_args(method, url, options)
  if type(method) ~= "string" or method == "" then return "http_client: method must be a non-empty string" end
  if type(url) ~= "string" or url == "" then return "http_client: url must be a non-empty string" end
  if options ~= nil and type(options) ~= "table" then return "http_client: options must be a table or nil" end
  return nil
end

local function request(method, url, options)
  if refused then return nil, py.error("Internal", refused) end
  return op("http_client.request", { method = upper(method), url = url, options = copy_options(options) })
end

local M = {}
function M.request(method, url, options)
  local bad = bad_args(method, url, options)
  if bad then error(bad, 2) end
  return request(method, url, options)
end
for _, m in ipairs({ "get", "post", "put", "delete", "head", "patch" }) do
  local name = upper(m)
  M[m] = function(url, options)
    local bad = bad_args(name, url, options)
    if bad then error(bad, 2) end
    return request(name, url, options)
  end
end

function M.request_batch(requests)
  if refused then return nil, py.error("Internal", refused) end
  if type(requests) ~= "table" or requests[1] == nil then error("http_client.request_batch: a non-empty array of {method, url, options?} is required", 2) end
  local list = {}
  for i = 1, #requests do
    local r = requests[i]
    if type(r) ~= "table" then return nil, py.error("Invalid", "each request must be a table") end
    if type(r[1]) ~= "string" then return nil, py.error("Invalid", "method must be a string") end
    if type(r[2]) ~= "string" then return nil, py.error("Invalid", "URL must be a string") end
    if r[3] ~= nil and type(r[3]) ~= "table" then return nil, py.error("Invalid", "options must be a table") end
    if r[3] ~= nil and r[3].stream ~= nil then return nil, py.error("Invalid", "streaming not supported in batch requests") end
    list[i] = { method = upper(r[1]), url = r[2], options = copy_options(r[3]) }
  end
  -- responses[i] / errors[i]: arrays with holes (iterate for i = 1, #requests)
  return op("http_client.batch", list)
end

M.encode_uri = encode_uri
function M.decode_uri(s) return call("decode_uri", s) end

return M
