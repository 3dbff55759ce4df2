-- Processes that misbehave: each must end only itself.
local M = {}

function M.spinner() while true do end end

function M.hog()
  local t, i = {}, 0
  while true do
    i = i + 1
    t[i] = string.rep("x", 4096) .. i
  end
end

function M.binary() return "\255\254\253" end

-- Sends `n` messages to `target` as fast as it can; stops at the first refusal.
function M.spammer(target, n)
  for i = 1, n do
    local ok, err = process.send(target, "spam", i)
    if not ok then return {sent = i - 1, kind = err:kind(), message = err:message()} end
  end
  return {sent = n}
end

-- Channel ping-pong for ever: never waits for anything outside the process.
function M.chatter()
  local a, b = channel.new(1), channel.new(1)
  coroutine.spawn(function()
    while true do b:send(a:receive()) end
  end)
  local n = 0
  while true do
    a:send(n)
    n = b:receive() + 1
  end
end

return M
