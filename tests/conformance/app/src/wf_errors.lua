local funcs = require("funcs")
local one = funcs.new():with_options({["activity.retry_policy"] = {maximum_attempts = 1}})
return function(mode)
  if mode == "invalid" then
    local r, err = funcs.call("conf:fail_invalid", "no money")
    return {kind = err:kind(), retryable = err:retryable(), message = err:message(),
            field = err:details().field, wrapper = err:details()._wrapper, is_invalid = errors.is(err, errors.INVALID)}
  elseif mode == "raise" then
    local r, err = one:call("conf:raise_error")
    return {kind = err:kind(), has_text = string.find(err:message(), "activity exploded", 1, true) ~= nil}
  elseif mode == "unknown" then
    local r, err = one:call("conf:does_not_exist")
    return {kind = err:kind(), retryable = err:retryable()}
  elseif mode == "bad_id" then
    local r, err = funcs.call("no_namespace")
    return {kind = err:kind(), message = err:message()}
  elseif mode == "fail_workflow" then
    return nil, errors.new{message = "workflow gave up", kind = errors.CONFLICT, retryable = false}
  elseif mode == "fail_string" then
    return nil, "plain failure"
  elseif mode == "timeout" then
    local r, err = funcs.new():with_options({["activity.start_to_close_timeout"] = "200ms",
      ["activity.retry_policy"] = {maximum_attempts = 1}}):call("conf:slow", "3s")
    return {kind = err:kind(), timeout_type = err:details().timeout_type}
  end
  return "unknown mode"
end
