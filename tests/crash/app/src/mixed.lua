-- Activities, a timer and a signal, in an order that depends on the input.
local funcs = require("funcs")
local time = require("time")
return function(i)
  local acc = i
  for step = 1, 3 do
    acc = funcs.call("crash:mark", string.format("%d:%d", i, step), acc)
    if step == 2 then time.sleep(string.format("%dms", 50 + (i % 7) * 40)) end
  end
  local go = process.listen("go"):receive()
  local final = funcs.call("crash:add", acc, go.bonus)
  return {i = i, value = final, bonus = go.bonus}
end
