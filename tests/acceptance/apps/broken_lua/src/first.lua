type Item = {sku: string, qty: integer}

-- a missing `then`
local function main(items: {Item}): integer
  local n: integer = 0
  for _, it: Item in ipairs(items) do
    if it.qty > 0
      n = n + it.qty
    end
  end
  return n
end

return {main = main}
