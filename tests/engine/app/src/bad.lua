local function runaway() while true do end end
local function bomb()
  local t = {}
  for i = 1, 1e9 do t[i] = string.rep("x", 4096) .. i end
end
local function big()
  local funcs = require("funcs")
  local r, err = funcs.call("eng:echo", string.rep("x", 3 * 1024 * 1024))
  return {kind = err and err:kind(), retryable = err and err:retryable(), message = err and err:message()}
end
local function sends()
  local ok, err = process.send("{eng:client@eng:worker|no-such-workflow}", "hi", 1)
  return {ok = ok, kind = err and err:kind()}
end
-- Busy for a while within one step (well under the instruction budget).
local function spin(n)
  local x = 0
  for i = 1, n do x = x + i % 7 end
  return x
end
return {runaway = runaway, bomb = bomb, big = big, sends = sends, spin = spin}
