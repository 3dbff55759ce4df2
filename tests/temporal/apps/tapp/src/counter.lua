-- Counts "increment" messages until "finish"; remembers who sent them.
return function(input)
  local count = (type(input) == "table" and input.initial) or 0
  local senders = {}
  local inbox = process.inbox()
  while true do
    local msg = inbox:receive()
    if msg:topic() == "increment" then
      count = count + msg:payload():data()
      table.insert(senders, msg:from())
    elseif msg:topic() == "finish" then
      return {count = count, senders = senders}
    end
  end
end
