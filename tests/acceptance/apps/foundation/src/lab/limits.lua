-- Runaway code. The instruction budget and memory limit are on by default.
local function main(mode)
  if mode == "spin" then
    while true do end
  elseif mode == "spin_in_pcall" then
    -- pcall must not be able to swallow the budget error
    local ok = pcall(function() while true do end end)
    return {swallowed = not ok}
  elseif mode == "bomb" then
    local t, i = {}, 0
    while true do
      i = i + 1
      t[i] = string.rep("x", 1024) .. i
    end
  end
  return "fine"
end

return {main = main}
