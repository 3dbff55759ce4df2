local funcs = require("funcs")
local ctx = require("ctx")
return function()
  return {
    workflow = ctx.get("user"),
    activity = funcs.call("t:ctx_echo", "user"),
    local_activity = funcs.call("t:local_ctx_echo", "user"),
    python = funcs.call("t:py_upper", (ctx.get("user"))),  -- registered by the test
  }
end
