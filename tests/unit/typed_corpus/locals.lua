-- expect: [3, "b", null, true, 10, "x", 7]
-- typed-lua.md §3 locals: per name any subset annotated, with and without values;
-- Lua 5.4 attributes stay untouched.
local a: number, b: string = 1 + 2, "b"
local c: {string}?
local d, e: boolean = nil, true
local f <const>: integer = 10
local g <close> = nil
local h: string | nil, i = "x", 7
return a, b, c, e, f, h, i
