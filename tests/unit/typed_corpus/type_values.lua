-- expect: ["ok"]
-- typed-lua.md §5.2-§5.4: calling a type, T:is(v) and T.is(v), generics, globals, shadowing.
type Point = {x: number, y: number, label?: string}
type Box<T> = {value: T}
type Pair<K, V> = {key: K, val: V}
type Id = string

local function raises(f, pattern)
    local ok, err = pcall(f)
    assert(not ok, "expected an error")
    assert(string.find(tostring(err), pattern), tostring(err))
end

-- T(v): v unchanged when valid, else an error naming the type
local p = {x = 1, y = 2}
assert(Point(p) == p)
assert(integer(3.0) == 3.0 and math.type(integer(3.0)) == "float")   -- no conversion
assert(number(5) == 5 and boolean(false) == false and any(nil) == nil)
assert(string("s") == "s")                                          -- the checked cast
raises(function() return number("5") end, "expected number, got string")
raises(function() local v = Point({x = 1}) return v end, "y: required field missing")
raises(function() local v = Id(1) return v end, "expected Id, got number")
raises(function() local v = Point() return v end, "type Point expects at least 1 argument")
raises(function() local v = Point(1, 2) return v end, "type Point validation expects 1 value, got 2")
raises(function() local v = never(1) return v end, "expected never, got number")
raises(function() local v = Point(Point, 1) return v end, "does not accept mixed type/value arguments")
raises(function() local v = Point(Point) return v end, "type Point is not generic")
raises(function() local v = Box(Point, Point) return v end, "generic Box expects 1 type arguments, got 2")

-- the error is reported at the caller's line
local ok, err = pcall(function()
    local v = number("x")
    return v
end)
assert(string.find(err, "type_values.lua:32: expected number, got string", 1, true), err)

-- T:is(v) / T.is(v): v, nil or nil, err (an Invalid error object; tostring is the message)
local v1, e1 = Point:is(p)
assert(v1 == p and e1 == nil)
local v2, e2 = Point:is({x = 1, y = "a"})
assert(v2 == nil and tostring(e2) == "y: expected number, got string")
assert(e2:kind() == "Invalid" and e2:retryable() == nil and e2:message() == "y: expected number, got string")
local det = e2:details()
assert(det.field == "y" and det.expected == "number" and det.got == "string" and det.constraint == nil)
assert(Point.is(p) == p and Point.is(5) == nil)
assert(string:is("a") == "a" and select(2, string:is(1)):message() == "expected string, got number")
if Point:is(p) then else error("narrowing by truthiness") end

-- generics: instantiation with type values (installed globals); a builtin name is a value
local PB = Box(Point)
assert(PB:is({value = p}) and not PB:is({value = {x = 1}}))
assert(select(2, PB:is({value = {x = 1}})):message() == "value.y: required field missing")
assert(not Box:is({value = 1}))                              -- not instantiated: accepts nothing
local PP = Pair(Point, Point)
assert(PP:kind() == "instantiated" and PP:is({key = p, val = p}))
raises(function() return Box(string) end, "generic type Box is not instantiated")  -- the string library is a value

-- top-level non-primitive types are globals when unset: plain values
local T = Point
assert(T == Point and _G.Point == Point and Point.x:name() == "number")
assert(rawget(_G, "Id") == nil)                              -- primitive aliases are not installed
assert(type(Point) == "userdata" and tostring(Point) == "Point")

-- a local shadows a type name; elsewhere the name is a plain variable
do
    local number = function(v) return v * 2 end
    assert(number(4) == 8)
end
local string_lib = string
assert(string_lib.format("%d", 3) == "3" and ("ab"):upper() == "AB")
assert(_G.number == nil)                                     -- `number` as a plain value is nil

-- aliases inside blocks are erased only: not type values
do
    type Inner = {a: string}
end
assert(rawget(_G, "Inner") == nil)
return "ok"
