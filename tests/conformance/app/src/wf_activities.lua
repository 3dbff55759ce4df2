local funcs = require("funcs")
return function(n)
  local sum = 0
  for i = 1, n do
    local r, err = funcs.call("conf:add", sum, i)
    if err then return nil, err end
    sum = r
  end
  local echoed = funcs.new():with_options({["activity.start_to_close_timeout"] = "5s"}):call("conf:echo", {a = {1, 2}, b = "x"})
  local e2 = funcs.call("conf:with_defaults", "d")
  return {sum = sum, echoed = echoed, defaults = e2}
end
