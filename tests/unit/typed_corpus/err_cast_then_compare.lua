-- error: 6: syntax error near 'number'
-- typed-lua.md §7: `v as number < 10` starts generic arguments: a syntax error in Wippy.
type Limit = number
local v: number = 5
local w = (v as number) < 10   -- the right way
local ok = v as number < 10
return ok, w
