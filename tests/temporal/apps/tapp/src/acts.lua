local function step(tag) return "done:" .. tostring(tag) end
local function ctx_echo(key) return require("ctx").get(key) end
return {step = step, ctx_echo = ctx_echo}
