-- A long history: n activity calls (3 history events each).
local funcs = require("funcs")
return function(n)
  local acc = 0
  for i = 1, n do acc = acc + funcs.call("bench:echo", i) end
  return acc
end
