-- duralua call demo:session 1 2 3: a counter of its own, monitored, then cancelled.
local function main(...)
  local pid, err = process.spawn_monitored("demo:counter", "demo:procs", 10)
  if err then return nil, err end
  for _, n in ipairs({...}) do process.send(pid, "add", n) end
  process.send(pid, "get")
  local count = process.inbox():receive():payload():data()
  process.cancel(pid, "done")
  local exit = process.events():receive()  -- EXIT: the counter returned its count
  return {count = count, exit = exit.result.value}
end

return {main = main}
