-- Wippy's typed Lua: annotations are checked by Wippy and stripped by duralua.
local funcs = require("funcs")

type Line = {sku: string, qty: integer, price: number}
type Invoice<T> = {lines: {T}, total: number, tax: number?}

local function subtotal(lines: {Line}): number
  local sum: number = 0
  for _, line: Line in ipairs(lines) do
    sum = sum + line.qty * line.price
  end
  return sum
end

local function main(lines: {Line}): (Invoice<Line>?, error?)
  local net = subtotal(lines)
  local tax, err = funcs.call("demo:tax", net)   -- a Python callable
  if err then return nil, err end
  return {lines = lines, total = net + (tax as number), tax = tax}
end

return {main = main}
