-- n activity calls, then waits for a message on "go" (the history limit tests read the run
-- while it waits).
local funcs = require("funcs")
return function(n)
  for i = 1, n do funcs.call("eng:echo", i) end
  process.listen("go"):receive()
  return n
end
