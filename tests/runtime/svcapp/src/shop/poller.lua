-- Polls a queue; the queue is never there, so it fails and the supervisor restarts it.
local function main(queue, every)
  error("queue " .. queue .. " unreachable (polling every " .. every .. "s)")
end
return {main = main}
