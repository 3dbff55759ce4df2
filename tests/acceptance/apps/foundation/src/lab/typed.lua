-- Wippy's gradual type syntax: aliases, annotated params/returns, generics, casts, table types.
type Money = number
type LineItem = {sku: string, qty: integer, price: Money}
type Order = {id: string, items: {LineItem}, coupon: string?}
type Result<T> = {ok: boolean, value: T?, error: string?}

local function sum<T>(list: {T}, get: (T) -> number): number
  local total: number = 0
  for _, item in ipairs(list) do
    total = total + get(item)
  end
  return total
end

local function price_of(item: LineItem): Money
  return item.qty * item.price
end

local function percent(code: string?): number
  if code == nil then return 0 end
  local digits: string? = string.match(code as string, "%d+")
  return (tonumber(digits) or 0) / 100
end

local function main(order: Order): (Result<{[string]: any}>, string?)
  local by_sku: {[string]: integer} = {}
  for _, it: LineItem in ipairs(order.items) do
    by_sku[it.sku] = it.qty
  end
  local ch: Channel<number> = channel.new(1)
  ch:send(sum(order.items, price_of) * (1 - percent(order.coupon)))
  local total = ch:receive() as number
  local res: Result<{[string]: any}> = {ok = true, value = {id = order.id, total = total, by_sku = by_sku}}
  return res, nil
end

return {main = main}
