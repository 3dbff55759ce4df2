-- Sleeps until an absolute deadline (Unix milliseconds), so that every sleeper of a benchmark
-- wakes at the same instant however long starting them took.
local time = require("time")
return function(deadline_ms)
  local wait = deadline_ms - time.now():unix_milli()
  if wait > 0 then time.sleep(string.format("%dms", wait)) end
  return "woke"
end
