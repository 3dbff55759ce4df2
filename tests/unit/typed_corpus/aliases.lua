-- expect: [1, 2, 3, 4, "local type ok", 6]
-- typed-lua.md §3 alias statements wherever a statement may start, and §7: a type ending
-- in `>` at the end of a line followed by a `type` line is two statements.
type A = Channel<string>
type B = number
local c: Chan<T> = nil
type X = {a: number}
local one = 1 type Inline = string local two = 2
type Semi = number; local three = 3
type Generic<T, U: Comparable> = {left: T, right: U}
do
    type InBlock = Map<string, Array<T>>
end
local four
if true then
    type InIf = string
    four = 4
end
local function f()
    type InFunction = {x: number}
    return "local type ok"
end
local type = 6     -- `type` is not reserved
type Last = B
return one, two, three, four, f(), type
