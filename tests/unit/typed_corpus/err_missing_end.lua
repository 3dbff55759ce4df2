-- error: 10: 'end' expected \(to close 'if' at line 7\) near <eof>
-- A chunk with type values is compiled wrapped; its errors must still be the user's.
type Point = {x: number}
local function check(p: Point): boolean
    return Point:is(p) ~= nil
end
if check({x = 1}) then
    local y: number = 2
    return y
