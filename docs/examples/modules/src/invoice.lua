-- Wippy's typed Lua: annotations are erased; top-level types are also run-time values.
local funcs = require("funcs")

type Line = {sku: string @min_len(1), qty: integer @min(1), price: number}
type Invoice<T> = {lines: {T}, total: number, tax: number?}

local function subtotal(lines: {Line}): number
  local sum: number = 0
  for _, line: Line in ipairs(lines) do
    sum = sum + line.qty * line.price
  end
  return sum
end

local function main(lines: {Line}): (Invoice<Line>?, error?)
  for _, line in ipairs(lines) do
    local _, bad = Line:is(line)   -- nil, an Invalid error when the line does not fit
    if bad then return nil, bad end
  end
  local net = subtotal(lines)
  local tax, err = funcs.call("demo:tax", net)   -- a Python callable
  if err then return nil, err end
  return {lines = lines, total = net + (tax as number), tax = tax}
end

return {main = main}
