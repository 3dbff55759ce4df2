-- Always fails (retryable): its workflows show the attempts.
local function fails()
  error("card service down")
end

return {fails = fails}
