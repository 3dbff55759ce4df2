-- An activity that always fails (retryable), so its workflow sits in retry backoff.
local function fails()
  error("still failing")
end

-- A function that waits an hour for a workflow (what `run --call` is stopped during).
local function nap_then_return()
  return process.exec("op:napper", "op:worker", "1h")
end

local function hello(name)
  return "hello " .. tostring(name)
end

-- Raises its argument as the error message (markup-looking text must come out verbatim).
local function raise(message)
  error(message, 0)
end

return {fails = fails, nap_then_return = nap_then_return, hello = hello, raise = raise}
