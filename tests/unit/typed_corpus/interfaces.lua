-- expect: [12, "rect", true]
-- typed-lua.md §3 interface statements: optional bases, method lines without bodies.
interface Named
    function name(self: Named): string
end

interface Shape : Named, Comparable<Shape>
    function area(self: Shape): number
    function scale(self: Shape, by: number?): ()
    function corners(): (number, number)
end

local Rect = {}
Rect.__index = Rect
function Rect.new(w: number, h: number): Shape
    return setmetatable({w = w, h = h}, Rect)
end
function Rect:area(): number return self.w * self.h end
function Rect:name(): string return "rect" end

local r = Rect.new(3, 4)
local ok = Shape:is(r) ~= nil
return r:area(), r:name(), ok
