local funcs = require("funcs")

local function main(total)
  local inbox = process.inbox()
  local seen = {}
  while #seen < total do
    local msg = inbox:receive()
    local r = funcs.call("st:record", msg:payload():data().n)
    table.insert(seen, r.n)
  end
  return seen
end

local function quick(n)
  return funcs.call("st:record", n).n
end

return {main = main, quick = quick}
