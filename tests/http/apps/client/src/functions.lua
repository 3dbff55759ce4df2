local calls = require("calls")
local http_client = calls.client

local function request(method, url, options)
  if method == "GET" and options and options.via_get then
    options.via_get = nil
    return calls.summary(http_client.get(url, options))
  end
  return calls.summary(http_client.request(method, url, options))
end

local function batch(requests)
  local responses, errors = http_client.request_batch(requests)
  local out = {}
  for i = 1, #requests do
    if responses[i] then out[i] = {status = responses[i].status_code}
    else out[i] = {err = errors[i]:message(), retryable = errors[i]:retryable()} end
  end
  return {items = out, has_errors = errors ~= nil}
end

local function uri(text)
  local encoded = http_client.encode_uri(text)
  local decoded = http_client.decode_uri(encoded)
  local _, bad = http_client.decode_uri("100%zz")
  return {encoded = encoded, decoded = decoded, bad = bad and bad:message(), bad_kind = bad and bad:kind()}
end

-- Programming errors raise; format problems of a batch answer nil, err.
local function misuse()
  local out = {}
  out.empty_url = select(2, pcall(http_client.get, ""))
  out.bad_options = select(2, pcall(http_client.get, "http://x", "nope"))
  out.empty_batch = select(2, pcall(http_client.request_batch, {}))
  local _, e = http_client.request_batch({{"GET"}})
  out.batch_no_url = e and e:message()
  local _, e2 = http_client.get("http://127.0.0.1:9/", {tls = {insecure_skip_verify = true}})
  out.tls = e2 and e2:message()
  return out
end

-- A body that is not valid UTF-8 goes out byte for byte.
local function binary(url)
  local body = string.char(0, 1, 2, 200, 255) .. "tail"
  return calls.summary(http_client.post(url, {body = body, headers = {["Content-Type"] = "application/octet-stream"}}))
end

return {request = request, batch = batch, uri = uri, misuse = misuse, binary = binary}
