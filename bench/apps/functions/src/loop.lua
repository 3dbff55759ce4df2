-- Calls a function entry n times through funcs.call.
local funcs = require("funcs")

local function loop(target, n)
  local call = funcs.call
  local last
  for i = 1, n do
    local v, err = call(target, i)
    if err then return nil, err end
    last = v
  end
  return last
end

return {loop = loop}
