local http_client = require("http_client")

-- fail_on_status: a 5xx is a retryable error, a 4xx is not.
local function strict(url)
  local resp, err = http_client.get(url, {fail_on_status = true, timeout = 5})
  if err then return nil, err end
  return resp.body
end

-- Wippy's way: statuses are responses; the activity decides what is retryable.
local function manual(url)
  local resp, err = http_client.get(url, {timeout = 5})
  if err then return nil, err end
  if resp.status_code >= 500 then
    return nil, errors.new{message = "upstream failed: " .. resp.status_code, kind = errors.UNAVAILABLE, retryable = true}
  end
  if resp.status_code >= 400 then
    return nil, errors.new{message = "rejected: " .. resp.status_code, kind = errors.INVALID, retryable = false}
  end
  return resp.body
end

return {strict = strict, manual = manual}
