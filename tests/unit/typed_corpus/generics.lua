-- expect: [5, "s", 2, 4, 3, "k"]
-- typed-lua.md §3 type parameters and §4/§7 nested generics: `>>` closes two levels,
-- `>>=` is `>>` then `=`.
local function id<T>(x: T): T return x end
function first<T, K: string>(list: {T}, key: K): T? return list[1] end
local M = {}
function M.wrap<T>(v: T): {value: T} return {value = v} end
function M:count<T>(items: {T}): integer return #items end
local apply = function<A, B>(f: (A) -> B, x: A): B return f(x) end

local m: Map<string, Array<number>> = {a = {1, 2}}
local n: Map<string, Map<string, Array<number>>>= {b = {c = {1, 2, 3, 4}}}
local o: Array<Array<Array<string>>> = {{{"k"}}}
type Nested<T> = Map<string, Array<Map<T, Array<T>>>>
return id(5), first({"s"}, "k"), #m.a, #n.b.c, M:count({1, 2, 3}), apply(function(v) return v[1][1] end, o[1])
