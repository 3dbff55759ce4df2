local M = {}

function M.flaky(text) error(text) end

function M.stable()
  require("time").sleep("10s")
  error("tired")
end

-- Runs until the supervisor asks it to stop.
function M.steady(name)
  local events = process.events()
  while true do
    local ev = events:receive()
    if ev.kind == process.event.CANCEL then return name .. " stopped: " .. ev.reason end
  end
end

function M.giveup() return nil, "x" end

function M.normal() return "all done" end

return M
