local M = {}

-- Answers every message to its sender.
function M.ponger()
  local inbox = process.inbox()
  while true do
    local msg = inbox:receive()
    if msg:topic() == "stop" then return true end
    process.send(msg:from(), "pong", 1)
  end
end

-- n round trips with a ponger, then reports to `parent`.
function M.pinger(ponger, n, parent)
  local inbox = process.inbox()
  for _ = 1, n do
    process.send(ponger, "ping", 1)
    inbox:receive()
  end
  process.send(ponger, "stop")
  process.send(parent, "done", n)
end

function M.trivial() return 1 end

-- n spawns of a trivial process, each waited for (exec: spawn, run, exit, result back).
function M.spawner(n, parent)
  for _ = 1, n do process.exec("bench:trivial", "bench:procs") end
  process.send(parent, "done", n)
end

function M.idle()
  process.inbox():receive()
end

return M
