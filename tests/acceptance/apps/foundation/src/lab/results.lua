-- Results that cannot cross the boundary (JSON rules), and one that can.
local function main(kind)
  if kind == "mixed" then
    return {items = {"a", "b", {[1] = "x", name = "y"}}}
  elseif kind == "function" then
    return {items = {"a", "b", function() end}}
  elseif kind == "nested" then
    return {order = {lines = {{sku = "A"}, {sku = "B", price = print}}}}
  end
  return {items = {"a", "b", {name = "y"}}, empty = {}}
end

return {main = main}
