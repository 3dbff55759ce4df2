local function greet(name)
  return "hello " .. tostring(name)
end
local function flaky(n)
  return nil, errors.new{message = "upstream unavailable <b>" .. tostring(n) .. "</b>", kind = "Unavailable",
                         retryable = true}
end
return {greet = greet, flaky = flaky}
