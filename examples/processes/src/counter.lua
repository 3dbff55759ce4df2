-- A counter: keeps its count across messages; "get" answers it to the sender. With a name it
-- registers it, so others can send to "counter". A CANCEL (service stopping) ends it.
local function main(start, name)
  if name then process.registry.register(name) end
  local count = start or 0
  local inbox, events = process.inbox(), process.events()
  while true do
    local r = channel.select({inbox:case_receive(), events:case_receive()})
    if r.channel == events then
      if r.value.kind == process.event.CANCEL then return count end
    elseif r.value:topic() == "add" then
      count = count + r.value:payload():data()
    elseif r.value:topic() == "get" then
      process.send(r.value:from(), "count", count)
    end
  end
end

return {main = main}
