-- Drives the counter workflow from an ordinary function: replies come to this process's inbox.
local time = require("time")

local function ask(pid, inbox, op, arg)
  process.send(pid, op, arg)
  local replies = {}
  while true do
    local r = channel.select{inbox:case_receive(), time.after("20s"):case_receive()}
    if r.channel ~= inbox then table.insert(replies, "timeout") return replies end
    local m = r.value
    local p = m:payload()
    table.insert(replies, {m:topic(), p and p:data()})
    if m:topic() ~= "ack" then return replies end
  end
end

local function run(pid)
  local inbox = process.inbox()
  local out = {}
  for _, step in ipairs({{"increment", 5}, {"decrement", 2}, {"increment", "x"}, {"get"}, {"fail"}, {"bogus"}}) do
    table.insert(out, ask(pid, inbox, step[1], step[2]))
  end
  return out
end
return {run = run}
