-- duralua run stats 2 3: adds to the counter service by its name, prints the count.
local io = require("io")

local function main(...)
  for _, n in ipairs({...}) do process.send("counter", "add", tonumber(n)) end
  process.send("counter", "get")
  local msg = process.inbox():receive()
  io.print("count: " .. msg:payload():data())
end

return {main = main}
