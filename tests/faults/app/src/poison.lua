-- One workflow per bad-value class. Each must end failed or held (with a reason) without
-- stopping the engine for the other workflows.
local function binary()
  return "\xff\xfe" .. require("crypto").random.bytes(16)
end

local function bin_return()
  return binary()
end

local function bin_raise()
  error(binary())
end

local function tostring_raises()
  error(setmetatable({}, {__tostring = function() error("__tostring exploded") end}))
end

local function tostring_loops()
  error(setmetatable({}, {__tostring = function() while true do end end}))
end

-- (A channel whose id is private ignores the field: then it simply returns 1.)
local function channel_tamper()
  local ch = channel.new(1)
  ch.id = "x"
  ch:send(1)
  local v = ch:receive()
  return v
end

-- A yield of arbitrary values straight from the workflow's main coroutine.
local function forged_yield()
  coroutine.yield({}, 42, "recv", function() end)
  return "still here"
end

-- A blocking call inside coroutine.wrap hands the driver's op token to user code; the
-- workflow then yields a forged op with it. (If no token leaks, it says so and completes.)
local function forged_op()
  local time = require("time")
  local leaked = table.pack(coroutine.wrap(function() return time.sleep("1ms") end)())
  if type(leaked[1]) ~= "table" then return "no token leaked: " .. tostring(leaked[1]) end
  coroutine.yield(leaked[1], "recv", "garbage")
  coroutine.yield(leaked[1], "no-such-op", {}, 1)
  return "still here"
end

local retry2 = {["activity.retry_policy"] = {maximum_attempts = 2, initial_interval = "10ms"}}

local function act_bin()
  local funcs = require("funcs")
  local v, err = funcs.new():with_options(retry2):call("faults:bin_result")
  if err then error(err) end
  return v
end

local function act_bad_raise()
  local funcs = require("funcs")
  local v, err = funcs.new():with_options(retry2):call("faults:bad_raise")
  if err then error(err) end
  return v
end

local function many_async()
  local funcs = require("funcs")
  for i = 1, 100000 do funcs.async("faults:double", i) end
  return "scheduled 100000 activities in one step"
end

local function pattern()
  return (string.rep("a", 800):find(".-.-.-b"))
end

return {
  bin_return = bin_return, bin_raise = bin_raise, tostring_raises = tostring_raises,
  tostring_loops = tostring_loops, channel_tamper = channel_tamper, forged_yield = forged_yield,
  forged_op = forged_op, act_bin = act_bin, act_bad_raise = act_bad_raise, many_async = many_async,
  pattern = pattern,
}
