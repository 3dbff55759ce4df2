-- Services the UI's Services page shows, one per state.
local M = {}

-- Runs until the supervisor asks it to stop (service stopping), with a named helper beside it.
function M.keeper(name)
  process.registry.register(name)
  process.spawn_linked("svc:helper", "svc:procs", name .. "-helper")
  local events = process.events()
  while true do
    local ev = events:receive()
    if ev.kind == process.event.CANCEL then return "stopped" end
  end
end

function M.helper(name)
  process.registry.register(name)
  process.inbox():receive()
end

-- The error text holds markup: the page must show it as text.
function M.crash() error("boom <b onmouseover=\"document.title='pwned'\">x</b>") end

function M.done() return "all done" end

return M
