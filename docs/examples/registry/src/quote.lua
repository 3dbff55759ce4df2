-- `imports` makes require("pricing") return the value of the shop.lib:pricing chunk.
local pricing = require("pricing")

local function quote(req)
  local unit = pricing.unit_price(req.sku)
  if unit == nil then
    return nil, errors.new{message = "no price for " .. req.sku, kind = errors.NOT_FOUND, retryable = false}
  end
  return {sku = req.sku, qty = req.qty, total = pricing.round(unit * req.qty)}
end

return {quote = quote}
