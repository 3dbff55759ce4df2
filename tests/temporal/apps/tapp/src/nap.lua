-- An activity that takes a while: long enough to kill its worker mid-attempt.
local time = require("time")
local function nap(tag, seconds)
  time.sleep(tostring(seconds) .. "s")
  return "slept:" .. tag
end
return {nap = nap}
