-- expect: [3, "ok", 2, "a,b", 6, "done", 0]
-- typed-lua.md §3 parameters and return types: `: T`, `: T, U`, `: (T, U, ...)`, `: ()`,
-- varargs `...` and `...: T`.
local function add(a: number, b: number?): number
    return a + (b or 0)
end

local function pair(x: any): string, number
    return "ok", 2
end

local function join(sep: string, ...: string): (string, number, ...any)
    return table.concat({...}, sep), select("#", ...)
end

local function sum3(...): number
    local t = {...}
    return t[1] + t[2] + t[3]
end

local function nothing(): ()
end

local M = {}
function M.run(self: any, cb: (string) -> ()): string
    cb("x")
    return "done"
end

local s, n = pair(nil)
local joined = join(",", "a", "b")
return add(1, 2), s, n, joined, sum3(1, 2, 3), M:run(function(x: string) end), select("#", nothing())
