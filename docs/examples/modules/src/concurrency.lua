-- Coroutines and channels inside one function call.

-- Three workers square numbers concurrently; the caller collects the results.
local function fan_out(numbers)
  local results = channel.new(#numbers)
  for _, n in ipairs(numbers) do
    coroutine.spawn(function() results:send(n * n) end)
  end
  local total = 0
  for _ = 1, #numbers do
    total = total + results:receive()
  end
  return total
end

-- channel.select with a default branch never blocks.
local function poll()
  local inbox = channel.new(1)
  local before = channel.select{inbox:case_receive(), default = true}
  inbox:send("hello")
  local after = channel.select{inbox:case_receive(), default = true}
  return {before = before.default == true, after = after.value}
end

return {fan_out = fan_out, poll = poll}
