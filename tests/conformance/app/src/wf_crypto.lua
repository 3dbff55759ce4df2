-- crypto and json.validate inside a workflow (issue 10 item 2). The random parts (key, nonces)
-- and the ECDSA signature must come out the same when the run is replayed: the values travel
-- through an activity, and after it (a replay on the "replay" engine) the recomputed ones are
-- compared with what the first execution sent.
local funcs = require("funcs")
local crypto = require("crypto")
local base64 = require("base64")
local json = require("json")
local time = require("time")

return function(input)
  local key = crypto.random.bytes(32)
  local aes = crypto.encrypt.aes("secret order", key, "order-1")
  local chacha = crypto.encrypt.chacha20("secret order", key)
  local exp = time.now():unix() + 3600
  local hs = crypto.jwt.encode({sub = "order-1", exp = exp}, "jwt-secret")
  local es = crypto.jwt.encode({sub = "order-1", exp = exp}, input.ec_private, "ES256")
  local sent = {key = base64.encode(key), aes = base64.encode(aes), chacha = base64.encode(chacha), hs = hs, es = es}
  local echoed = funcs.call("conf:echo", sent)
  local same = true
  for k, v in pairs(sent) do
    if echoed[k] ~= v then same = false end
  end

  local _, tampered = crypto.decrypt.aes(aes, key, "order-2")
  local claims = crypto.jwt.verify(es, input.ec_public, "ES256")
  local _, expired = crypto.jwt.verify(crypto.jwt.encode({sub = "x", exp = time.now():unix() - 1}, "k"), "k")
  local schema = {["$defs"] = {id = {type = "string", format = "uuid"}}, type = "object", required = {"id"},
                  properties = {id = {["$ref"] = "#/$defs/id"}}}
  local valid = json.validate(schema, {id = crypto.random.uuid()})
  local _, invalid = json.validate(schema, {id = "nope"})
  return {
    same = same,
    aes_len = #aes,
    plain = crypto.decrypt.aes(aes, key, "order-1"),
    chacha_plain = crypto.decrypt.chacha20(chacha, key),
    tampered = tampered and tampered:kind(),
    hs_sub = crypto.jwt.verify(hs, "jwt-secret").sub,
    es_sub = claims and claims.sub,
    expired = expired and expired:message(),
    valid = valid,
    invalid = invalid and invalid:message(),
    aes = sent.aes,
    key = sent.key,
    es = es,
  }
end
