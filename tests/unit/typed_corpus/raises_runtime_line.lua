-- raises: 13: boom at the original line
type Order = {
    id: string,
    items: {
        {sku: string, qty: integer}
    },
}
local function total(o: Order): number
    local n: number = 0
    for _, item in ipairs(o.items) do n = n + item.qty end
    return n
end
if total({id = "1", items = {{sku = "a", qty = 1}}}) == 1 then error("boom at the original line") end
