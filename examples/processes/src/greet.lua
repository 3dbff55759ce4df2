local io = require("io")

local function main(who)  -- duralua run greet ada: who == "ada"
  io.print("hello", who or "world")
  return 0                -- the exit code
end

return {main = main}
