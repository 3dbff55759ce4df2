-- Pure modules: time, json, base64, hash, crypto, uuid, ctx.
local M = {}

function M.dates()
  local time = require("time")
  local t = time.date(2024, time.FEBRUARY, 28, 22, 30, 0, 0, time.utc)
  local later = t:add("90m")
  local d = time.parse_duration("1h30m")
  return {
    start = t:format(time.RFC3339),
    later = later:format("2006-01-02 15:04"),
    leap_day = later:day() == 29,
    minutes = d:minutes(),
    nanoseconds = time.MINUTE,
  }
end

function M.codecs(text)
  local json, base64, hash = require("json"), require("base64"), require("hash")
  local crypto, uuid = require("crypto"), require("uuid")
  local encoded = json.encode({text = text, tags = {"a", "b"}, none = {}})
  local decoded = json.decode(encoded)
  return {
    json = encoded,
    first_tag = decoded.tags[1],
    base64 = base64.encode(text),
    sha256 = hash.sha256(text),
    hmac = crypto.hmac.sha256("secret", text),
    id = uuid.v5("6ba7b811-9dad-11d1-80b4-00c04fd430c8", "https://example.com/" .. text),
  }
end

function M.whoami()
  local ctx = require("ctx")
  local user = ctx.get("user")
  local _, err = ctx.get("tenant")
  return {user = user, tenant_error = err:kind()}
end

-- pairs() order: sorted keys, the same in every Lua state
function M.key_order()
  local t = {banana = 1, apple = 2, cherry = 3, [2] = "two", [1] = "one"}
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = tostring(k) end
  return keys
end

return M
