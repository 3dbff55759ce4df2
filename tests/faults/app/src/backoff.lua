-- An activity that keeps failing (faults:flaky, a Python function of the test) under the
-- given activity options; returns its value and how much workflow time passed.
local funcs = require("funcs")
local time = require("time")
return function(options)
  local t0 = time.now()
  local v, err = funcs.new():with_options(options):call("faults:flaky")
  local hours = time.now():sub(t0):seconds() / 3600
  if err then return {error = err:message(), hours = hours} end
  return {value = v, hours = hours}
end
