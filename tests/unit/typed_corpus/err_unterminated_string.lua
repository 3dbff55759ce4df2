-- error: 5: unfinished string near '"oops'
type S = string
local a: S = "fine"
local b = [[long]] -- comment
local c = "oops
return a, b, c
