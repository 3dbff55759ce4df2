-- n calls of an async Python activity (bench/evicted.py registers bench:aecho): each result
-- arrives in a later batch, so other runs activate between two steps of this one.
local funcs = require("funcs")
return function(n)
  local acc = 0
  for i = 1, n do acc = acc + funcs.call("bench:aecho", i) end
  return acc
end
