local time = require("time")
local M = {}

function M.short(v)
  time.sleep("1s")
  return {value = v}
end

function M.fail(text)
  time.sleep("1s")
  error(text or "workflow failed")
end

-- Pings a process (or function) PID and returns its answer.
function M.ping(pid)
  local pong = process.listen("pong")
  process.send(pid, "ping", {wf = process.pid()})
  return {pong = pong:receive()}
end

return M
