-- A Lua and a Python activity that sleep side by side; `heartbeat` (a duration) overrides the
-- default heartbeat timeout of both.
local funcs = require("funcs")
return function(seconds, heartbeat)
  local ex = funcs.new()
  if heartbeat then ex = ex:with_options({["activity.heartbeat_timeout"] = heartbeat}) end
  local lua = ex:async("t:nap", "lua", seconds)
  local py = ex:async("t:py_nap", "py", seconds)
  local a = lua:response():receive()
  local b = py:response():receive()
  return {a:data(), b:data()}
end
