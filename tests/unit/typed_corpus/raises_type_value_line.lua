-- raises: 7: items\[1\].qty: expected integer, got string
type Item = {sku: string, qty: integer}
type Order = {
    id: string,
    items: {Item},
}
local order = Order({id = "1", items = {{sku = "a", qty = "2"}}})
return order
