-- expect: ["ok"]
-- typed-lua.md §5.6: kind, name, elem/key/val/inner/ret, fields, variants, params, tparams.
type Point = {x: number, y?: string}
type L = {number}
type M = {[string]: boolean}
type O = string?
type U = "a" | number
type I = {a: number} & {b: number}
type F = (a: number, b: string) -> (boolean, string)
type G = () -> number
type Box<T: number, U> = {value: T}
type Id = string
type Lit = "x"

assert(Point:kind() == "record" and L:kind() == "array" and M:kind() == "map" and O:kind() == "optional")
assert(U:kind() == "union" and I:kind() == "intersection" and F:kind() == "function")
assert(Box:kind() == "generic" and Box(Point, Point):kind() == "instantiated" and Id:kind() == "string")
assert(number:kind() == "number" and integer:kind() == "integer" and any:kind() == "any")
assert(Lit:kind() == "unknown")
assert(Point:name() == "Point" and string:name() == "string" and L:elem():name() == "number")
assert(L:elem():kind() == "number" and M:key():name() == "string" and M:val():name() == "boolean")
assert(O:inner():name() == "string" and G:ret():name() == "number" and F:ret():kind() == "tuple")
assert(Point:elem() == nil and L:key() == nil and number:fields() == nil and L:ret() == nil)
assert(Point.kind() == "record")                                   -- T.m() works as well

local names = {}
for name, t in Point:fields() do names[#names + 1] = name .. ":" .. t:kind() end
assert(table.concat(names, ",") == "x:number,y:string")

local variants = {}
for t in U:variants() do variants[#variants + 1] = t:kind() end
assert(table.concat(variants, ",") == "unknown,number")

local params = {}
for t in F:params() do params[#params + 1] = t:name() end
assert(table.concat(params, ",") == "number,string")

local tps = {}
for name, c in Box:tparams() do tps[#tps + 1] = name .. "=" .. (c and c:name() or "nil") end
assert(table.concat(tps, ",") == "T=number,U=nil")

assert(Point.x:name() == "number" and Point.y:kind() == "string" and Point.z == nil)
assert(tostring(L) == "L" and tostring(L:elem()) == "number" and tostring(F:ret()) == "(boolean, string)")
assert(not pcall(function() Point.x = 1 end))                       -- read-only
return "ok"
