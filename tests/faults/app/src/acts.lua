-- Activities of the fault suite.
local function double(x) return x * 2 end

local function slow(d, value)
  require("time").sleep(d)
  return value
end

-- Each execution prints one line; the tests count them in the engine's stderr.
local function marked(tag)
  print("EXEC " .. tag)
  return tag
end

-- A result that is not UTF-8.
local function bin_result()
  return "\xff\xfe" .. require("crypto").random.bytes(16)
end

-- An error value whose __tostring itself raises.
local function bad_raise()
  error(setmetatable({}, {__tostring = function() error("__tostring exploded") end}))
end

return {double = double, slow = slow, marked = marked, bin_result = bin_result, bad_raise = bad_raise}
