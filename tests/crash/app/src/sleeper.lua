local time = require("time")
return function(seconds)
  local t0 = time.now()
  time.sleep(string.format("%ds", seconds))
  return {slept = time.now():sub(t0):seconds()}
end
