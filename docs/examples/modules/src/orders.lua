-- Functions calling functions with the (value, err) convention. Both entries load this file;
-- `require` runs with the modules of the entry that runs, so demo:stock (no modules) must not
-- require "funcs" at the top of the file.

local STOCK = {A1 = 5, B2 = 0}

local function stock(sku)
  local n = STOCK[sku]
  if n == nil then
    return nil, errors.new{message = "unknown sku " .. sku, kind = errors.NOT_FOUND, retryable = false}
  end
  return n
end

local function place_order(order)
  local funcs = require("funcs")
  local available, err = funcs.call("demo:stock", order.sku)
  if err then
    if errors.is(err, errors.NOT_FOUND) then
      return {status = "rejected", reason = err:message()}
    end
    return nil, errors.wrap(err, "checking stock")    -- keeps kind and retryable
  end
  if available < order.qty then
    return nil, errors.new{message = "only " .. available .. " left", kind = errors.CONFLICT,
                           retryable = true, details = {available = available}}
  end
  return {status = "placed", sku = order.sku, qty = order.qty}
end

return {stock = stock, place_order = place_order}
