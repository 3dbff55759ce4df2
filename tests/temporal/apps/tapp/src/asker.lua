-- An ordinary function that starts a workflow which replies to it.
local time = require("time")
return function()
  local inbox = process.inbox()
  local pid, err = process.spawn("t:replier", "t:worker", process.pid())
  if err then return nil, err end
  local r = channel.select{inbox:case_receive(), time.after("10s"):case_receive()}
  if r.channel ~= inbox then return {timed_out = true} end
  return {topic = r.value:topic(), data = r.value:payload():data(), from_workflow = r.value:from() == pid}
end
