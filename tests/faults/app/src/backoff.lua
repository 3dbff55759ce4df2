-- An activity that keeps failing (faults:flaky, a Python function of the test) under the
-- given retry policy; returns its value and how much workflow time passed.
local funcs = require("funcs")
local time = require("time")
return function(policy)
  local t0 = time.now()
  local v, err = funcs.new():with_options({["activity.retry_policy"] = policy}):call("faults:flaky")
  local hours = time.now():sub(t0):seconds() / 3600
  if err then return {error = err:message(), hours = hours} end
  return {value = v, hours = hours}
end
