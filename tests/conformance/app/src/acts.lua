local function echo(x) return x end
local function add(a, b) return a + b end
local function fail_invalid(msg)
  return nil, errors.new{message = msg or "bad input", kind = errors.INVALID, retryable = false,
                         details = {field = "amount"}}
end
local function raise_error() error("activity exploded") end
local function slow(d) require("time").sleep(d) return "slow done" end
local function ctx_echo(key) local ctx = require("ctx") local v = ctx.get(key) return v end
return {echo = echo, add = add, fail_invalid = fail_invalid, raise_error = raise_error, slow = slow,
        ctx_echo = ctx_echo}
