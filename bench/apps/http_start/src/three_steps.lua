-- Three activities in sequence, each fed the previous result; returns their sum.
-- For input {i = n} the result is (n + 1) + (n + 2) + (n + 3) = 3n + 6.
local funcs = require("funcs")

local function main(input)
  local a, err1 = funcs.call("bench:step1", input.i)
  if err1 then
    error(err1)
  end
  local b, err2 = funcs.call("bench:step2", a)
  if err2 then
    error(err2)
  end
  local c, err3 = funcs.call("bench:step3", b)
  if err3 then
    error(err3)
  end
  return a + b + c
end

return { main = main }
