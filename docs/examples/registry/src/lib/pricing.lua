local PRICES = {A1 = 9.99, B2 = 25}

local M = {}

function M.unit_price(sku)
  return PRICES[sku]
end

function M.round(x)
  return math.floor(x * 100 + 0.5) / 100
end

return M
