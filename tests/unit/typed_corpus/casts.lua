-- expect: [6, "x5", true, 7, 3, "n", 9, 12, "alice", 5]
-- typed-lua.md §3/§7 casts `as` and `::`, the non-nil assertion `!`: erased, precedence kept
-- (a cast binds tighter than every binary operator).
local a, b = 2, 4
local v = 5
local s = a + b :: number
local t = "x" .. v as string
local lt = (v as number) < 10
local bits = 3 as integer | 4   -- the cast takes only `integer`; `| 4` is bitwise or
local data = {Config = 1, name = 3}
local n = (data as Config).name
local labels = {n = "n"}
local l = labels.n :: string
local m = (a :: number) * 4 + 1
local f = function() return 12 end as () -> number
local user = {name = "alice"}
local name = (user!).name
local opt = v!
return s, t, lt, bits, n, l, m, f(), name, opt
