local funcs = require("funcs")
return function(x)
  if x == "fail" then
    return nil, errors.new{message = "child failed", kind = errors.INVALID, retryable = false}
  end
  local r = funcs.call("conf:add", x, 1000)
  return {child = r}
end
