-- expect: [true, "a: b as c", 3, "type", 2, 2, 1, "local string", 9, "x", 24]
-- Plain Lua that looks like type syntax must be left alone (typed-lua.md §2, §7).
local a, b, c, d = 1, 2, 4, 3
local cmp = a < b and c > d           -- comparisons, not generics
local f = function(x, y) return x < y, x > y end
local s = "a: b as c"                  -- strings
local long = [[type X = {a: number}]] .. [==[ x :: T ]==]
-- local commented: number = 1
--[[ type Commented = string ]]
local obj = {n = 2}
function obj:method(k) return self.n + k end
local m = obj:method(1)               -- method call, not a cast
local msg = {type = "type", as = 1, is = 1, interface = 1, readonly = 1}
local kinds = type(msg) .. msg.type
local t = {}
t.as = 2
local type_name = type(1)
for i = 1, 3 do
    if i == 2 then goto continue end
    ::continue::
end
do goto done end
:: done ::
local x <const> = 5
local bits = 1 << 2 >> 1 ~ 7 & 3 | 0   -- bitwise operators keep their meaning
local string = "local string"
local shadow_is = (function()
    local number = {is = function(_, v) return v + 1 end}
    return number:is(8)                  -- a local shadows the type value
end)()
local as = function(v) return v end
as("x")
local r = as("x")
local q = 2 ^ 3 * (a + b) // 1 * 1
return cmp, s, m, msg.type, t.as, bits + x - 4 + (#long > 0 and 0 or 1), #type_name - 5, string, shadow_is, r, q
