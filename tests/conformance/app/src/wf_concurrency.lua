local funcs = require("funcs")
local time = require("time")
return function(n)
  local results = channel.new(n)
  for i = 1, n do
    coroutine.spawn(function()
      local r = funcs.call("conf:add", i, 100)
      results:send(r)
    end)
  end
  local total, order = 0, {}
  for _ = 1, n do
    local v = results:receive()
    total = total + v
    table.insert(order, v)
  end
  -- unbuffered ping-pong between coroutines
  local ping, pong = channel.new(), channel.new()
  coroutine.spawn(function()
    for i = 1, 3 do local v = ping:receive() pong:send(v * 2) end
    pong:close()
  end)
  local doubled = {}
  for i = 1, 3 do ping:send(i) table.insert(doubled, (pong:receive())) end
  local _, ok = pong:receive()
  -- select with default
  local empty = channel.new(1)
  local d = channel.select{empty:case_receive(), default = true}
  return {total = total, order = order, doubled = doubled, closed_ok = ok, default = d.default == true}
end
