local funcs = require("funcs")

local function main(activity, url)
  local reliable = funcs.new():with_options{
    ["activity.retry_policy"] = {maximum_attempts = 5, initial_interval = 20, backoff_coefficient = 1},
  }
  local body, err = reliable:call(activity, url)
  if err then return {error = err:message(), kind = err:kind(), retryable = err:retryable()} end
  return {body = body}
end

return {main = main}
