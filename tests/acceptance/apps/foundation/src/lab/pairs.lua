-- The order in which pairs() visits a table with many string keys.
local function main(n)
  local t = {}
  for i = 1, n do
    local k = (i * 7919) % n
    t["key_" .. k] = i
  end
  local order = {}
  for k in pairs(t) do
    order[#order + 1] = k
  end
  return order
end

return {main = main}
