local time = require("time")
return function(expect)
  -- messages that arrive before anyone listens are kept
  time.sleep("1s")
  local got = {}
  local ctrl = process.listen("ctrl")
  local inbox = process.inbox()
  while #got < expect do
    local msg = inbox:receive()
    table.insert(got, {topic = msg:topic(), data = msg:payload():data(), from_is_string = type(msg:from()) == "string"})
  end
  local c = ctrl:receive()
  return {got = got, ctrl = c}
end
