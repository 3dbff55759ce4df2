local http_client = require("http_client")
local base64 = require("base64")

local M = {}

function M.summary(resp, err)
  if err then
    return {err = {kind = err:kind(), retryable = err:retryable(), message = err:message(), details = err:details()}}
  end
  return {
    status = resp.status_code, url = resp.url, size = resp.body_size, headers = resp.headers,
    cookies = resp.cookies, body = resp.body and base64.encode(resp.body),
  }
end

M.client = http_client
return M
