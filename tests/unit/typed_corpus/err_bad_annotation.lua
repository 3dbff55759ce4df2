-- error: 9: unexpected symbol near ':'
type Config = {
    host: string,
    port: number?,
}
local function f(c: Config): string
    return c.host
end
local x: = 1
return f, x
