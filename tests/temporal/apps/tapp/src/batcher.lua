-- Reads 5 messages per run, then continues as new with what it has seen, until `target`.
return function(state)
  local seen = state.seen or {}
  local inbox = process.inbox()
  for _ = 1, 5 do
    local msg = inbox:receive()
    table.insert(seen, {data = msg:payload():data(), from = msg:from()})
  end
  local runs = (state.runs or 1)
  if #seen >= state.target then return {seen = seen, runs = runs} end
  return process.upgrade(nil, {target = state.target, seen = seen, runs = runs + 1})
end
