return function(state)
  state = state or {seen = {}, total = 30}
  local inbox = process.inbox()
  local got = 0
  while #state.seen < state.total do
    local msg = inbox:receive()
    table.insert(state.seen, msg:payload():data().n)
    got = got + 1
    if got == 5 and #state.seen < state.total then
      return process.upgrade(nil, state)
    end
  end
  return state.seen
end
