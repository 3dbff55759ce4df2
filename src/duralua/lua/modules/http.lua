-- The `http` module for handlers of http.endpoint entries (spec lua-modules.md §15).
-- Executed once per Lua state. `py` holds the Python side; `py.host_op()` gives the function
-- that yields a host op (false when no process scheduler drives this state; the driver is
-- built after the module templates, hence the lookup on first use). Request/Response objects
-- carry no fields: the exchange they belong to is kept in the private weak table X.
local C, call, write = ...
local setmetatable, type, tostring, error = setmetatable, type, tostring, error

-- py.name(...) calls the Python side through one dispatcher (every Python callback costs each
-- new Lua state a wrapper; this module costs one, plus one for the byte-string writer).
local new_error = C.new_error
local py = setmetatable({ write = write, error = function(kind, msg) return new_error(kind, msg, false) end },
  { __index = function(t, name)
  local f = function(...) return call(name, ...) end
  t[name] = f
  return f
end })

local X = setmetatable({}, { __mode = "k" })

local Req, Res = {}, {}
local ReqMT = C.class("http.Request", Req)
local ResMT = C.class("http.Response", Res)

local function x_of(o, what)
  local x = X[o]
  if x == nil then error("http: " .. what .. " must be called as a method (obj:" .. what .. "(...))", 3) end
  return x
end

local function str_arg(v, what)
  if type(v) ~= "string" then error(what .. ": string expected, got " .. type(v), 3) end
  return v
end

-- Request ------------------------------------------------------------------------------------

local function field(name)
  return function(r) return py.get(x_of(r, name), name) end
end
Req.method = field("method")
Req.path = field("path")
Req.host = field("host")
Req.remote_addr = field("remote_addr")
Req.content_type = field("content_type")
Req.content_length = field("content_length")
Req.has_body = field("has_body")
Req.scheme = field("scheme")
function Req.query(r, name) return py.query(x_of(r, "query"), str_arg(name, "req:query")) end
function Req.query_params(r) return py.query_params(x_of(r, "query_params")) end
function Req.header(r, name) return py.header(x_of(r, "header"), str_arg(name, "req:header")) end
function Req.headers(r) return py.headers(x_of(r, "headers")) end
function Req.param(r, name) return py.param(x_of(r, "param"), str_arg(name, "req:param")) end
function Req.params(r) return py.params(x_of(r, "params")) end
function Req.body(r) return py.body(x_of(r, "body")) end
function Req.body_json(r) return py.body_json(x_of(r, "body_json")) end
function Req.accepts(r, mime) return py.accepts(x_of(r, "accepts"), str_arg(mime, "req:accepts")) end
function Req.is_content_type(r, mime)
  return py.is_content_type(x_of(r, "is_content_type"), str_arg(mime, "req:is_content_type"))
end
function Req.stream(r) x_of(r, "stream") return nil, py.error("Internal", "req:stream is not supported by duralua (the body is read before the handler runs: use req:body())") end
function Req.parse_multipart(r) x_of(r, "parse_multipart") return nil, py.error("Internal", "req:parse_multipart is not supported by duralua") end
ReqMT.__tostring = function(r) return "http.Request" end

-- Response -----------------------------------------------------------------------------------

function Res.set_status(r, code) return py.set_status(x_of(r, "set_status"), code) end
function Res.set_header(r, k, v) return py.set_header(x_of(r, "set_header"), k, v) end
function Res.set_content_type(r, t) return py.set_content_type(x_of(r, "set_content_type"), t) end
function Res.write(r, s)
  local x = x_of(r, "write")
  if type(s) == "number" then s = tostring(s) end
  if type(s) ~= "string" then error("res:write: string expected, got " .. type(s), 2) end
  return py.write(x, s)
end
function Res.write_json(r, v) return py.write_json(x_of(r, "write_json"), v) end
function Res.flush(r) return py.flush(x_of(r, "flush")) end
function Res.set_transfer(r, mode) return py.set_transfer(x_of(r, "set_transfer"), mode) end
function Res.write_event(r, ev)
  local x = x_of(r, "write_event")
  if type(ev) ~= "table" then error("res:write_event: table {name=, data=, id=, retry=} expected, got " .. type(ev), 2) end
  return py.write_event(x, ev.name, ev.data, ev.id, ev.retry)
end

-- The seed documents' chained style: http.response():status(500):json{...} (raises on error).
local function chained(fn)
  return function(r, ...)
    local err = fn(r, ...)
    if err ~= nil then error(err, 0) end  -- the error object itself: its text needs no position
    return r
  end
end
Res.status = chained(Res.set_status)
Res.json = chained(Res.write_json)
Res.header = chained(Res.set_header)
ResMT.__tostring = function(r) return "http.Response" end

-- Module ---------------------------------------------------------------------------------------

local host_op = false
local function exchange()
  if not host_op then host_op = py.host_op() end
  if not host_op then return nil, py.error("Internal", "no HTTP context (not inside an HTTP handler)") end
  return host_op("http.exchange")
end

local M = {}

function M.request(opts)
  if opts ~= nil and type(opts) ~= "table" then error("http.request: options must be a table or nil", 2) end
  local x, err = exchange()
  if x == nil then return nil, err end
  if opts ~= nil then
    local e = py.check_body(x, opts.timeout, opts.max_body)
    if e ~= nil then return nil, e end
  end
  local o = setmetatable({}, ReqMT)
  X[o] = x
  return o, nil
end

function M.response()
  local x, err = exchange()
  if x == nil then return nil, err end
  local o = setmetatable({}, ResMT)
  X[o] = x
  return o, nil
end

M.STATUS = {
  CONTINUE = 100, SWITCHING_PROTOCOLS = 101, OK = 200, CREATED = 201, ACCEPTED = 202, NO_CONTENT = 204,
  PARTIAL_CONTENT = 206, MOVED_PERMANENTLY = 301, FOUND = 302, SEE_OTHER = 303, NOT_MODIFIED = 304,
  TEMPORARY_REDIRECT = 307, PERMANENT_REDIRECT = 308, BAD_REQUEST = 400, UNAUTHORIZED = 401,
  PAYMENT_REQUIRED = 402, FORBIDDEN = 403, NOT_FOUND = 404, METHOD_NOT_ALLOWED = 405, NOT_ACCEPTABLE = 406,
  REQUEST_TIMEOUT = 408, CONFLICT = 409, GONE = 410, PAYLOAD_TOO_LARGE = 413, UNSUPPORTED_MEDIA_TYPE = 415,
  UNPROCESSABLE = 422, TOO_MANY_REQUESTS = 429, INTERNAL_ERROR = 500, NOT_IMPLEMENTED = 501,
  BAD_GATEWAY = 502, SERVICE_UNAVAILABLE = 503, GATEWAY_TIMEOUT = 504,
}
M.METHOD = { GET = "GET", POST = "POST", PUT = "PUT", PATCH = "PATCH", DELETE = "DELETE", HEAD = "HEAD",
  OPTIONS = "OPTIONS", TRACE = "TRACE" }
M.CONTENT = { JSON = "application/json", TEXT = "text/plain", HTML = "text/html",
  FORM = "application/x-www-form-urlencoded", MULTIPART = "multipart/form-data", STREAM = "application/octet-stream" }
M.TRANSFER = { CHUNKED = "chunked", SSE = "sse" }

return M
