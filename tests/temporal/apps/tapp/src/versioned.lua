-- The versioning tests rewrite the body of this workflow (see test_backend.py).
local funcs = require("funcs")
local workflow = require("workflow")
return function()
  local v = 0
  local r = funcs.call("t:step", "old")
  return {v = v, r = r}
end
