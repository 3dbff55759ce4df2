-- error: 4: 'then' expected near '!'
type T = number
local a: T, b: T = 1, 2
if a != b then return 1 end
